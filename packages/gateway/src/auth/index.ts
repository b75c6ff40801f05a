export { createAuth, parseUsers, parseApiKeys, type AuthConfig, type AuthUser } from './auth';
export { hashPassword, verifyPassword, hashApiKey } from './passwords';
