export const tls = {
  cert: fs.readFileSync("cert.pem"),
  key: `@@private-key-ec@@`,
};
