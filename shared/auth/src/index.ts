export { ROLES, isRole, grants, type Role } from "./roles";
export { createVerifier, mintToken, bearerToken, type JwtOptions, type Principal, type Verifier } from "./jwt";
export { newDeviceSecret, hashSecret, verifySecret } from "./device-secrets";
