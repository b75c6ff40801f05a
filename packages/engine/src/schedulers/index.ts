export * from './types';
export * from './tables';
export { getSampler, listSamplers, listSchedulers } from './registry';
export { ancestralSigmas } from './euler-ancestral-discrete';
export { lmsCoefficient } from './lms-discrete';
export { lcmTimesteps } from './lcm';
