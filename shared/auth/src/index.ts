export { ROLES, isRole, grants, type Role } from "./roles";
export { createVerifier, mintToken, bearerToken, handshakeToken, type JwtOptions, type Principal, type Verifier } from "./jwt";
export { newDeviceSecret, hashSecret, verifySecret } from "./device-secrets";
export { localSecret, sameSecret, LOCAL_SECRET_FILE } from "./local-secret";
export { firmwareLinks, linkKey, type FirmwareLinks } from "./firmware-links";
