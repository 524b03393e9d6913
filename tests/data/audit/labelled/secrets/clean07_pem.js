const HEADER = "-----BEGIN RSA PRIVATE KEY-----";
const FOOTER = "-----END RSA PRIVATE KEY-----";
export function toPem(der) {
  const b64 = der.toString("base64").match(/.{1,64}/g).join("\n");
  return `${HEADER}\n${b64}\n${FOOTER}\n`;
}
