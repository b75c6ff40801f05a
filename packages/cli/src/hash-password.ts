// npm run hash-password -- <password>   prints the scrypt hash to put in AUTH_USERS (user:<hash>)
import { hashPassword } from '@farm/gateway';

const password = process.argv[2];
if (!password) {
  console.error('usage: npm run hash-password -- <password>');
  process.exit(2);
}
console.log(hashPassword(password));
