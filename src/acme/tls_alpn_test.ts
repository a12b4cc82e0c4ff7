// Why `[acme] challenge` offers http-01 only. tls-alpn-01 (RFC 8737) validates by a TLS
// handshake on port 443 with ALPN "acme-tls/1", to which the server must answer with a
// self-signed certificate carrying the acmeIdentifier extension (1.3.6.1.5.5.7.1.31), which
// §3 says MUST be critical (pebble's VA and Let's Encrypt's only look at critical ones).
// Deno's TLS server (rustls, which parses its own certificate with webpki) refuses any
// certificate with a critical extension it does not know. This test pins that down: when
// it fails, a Deno upgrade can serve such certificates and tls-alpn-01 can be offered
// (node:tls ALPNCallback's `this.setKeyCert` already picks a certificate per ALPN).
import assert from "node:assert/strict";
import * as x509 from "@peculiar/x509";

const ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31";

async function challengeCertificate(critical: boolean) {
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  // The extension's value: an OCTET STRING holding the 32-byte SHA-256 of the key authorization.
  const digest = new Uint8Array([0x04, 0x20, ...new Uint8Array(32).fill(7)]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=relay.example.com",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "relay.example.com" }]),
      new x509.Extension(ACME_IDENTIFIER_OID, critical, digest),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${
    btoa(String.fromCharCode(...pkcs8)).replace(/.{64}/g, "$&\n")
  }\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString("pem"), key };
}

function listen(pair: { cert: string; key: string }): void {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    ...pair,
    alpnProtocols: ["acme-tls/1"],
  });
  listener.close();
}

Deno.test("Deno's TLS serves the acmeIdentifier extension only when it is not critical (no tls-alpn-01)", async () => {
  // Control: the same certificate with the extension non-critical loads.
  listen(await challengeCertificate(false));
  const critical = await challengeCertificate(true);
  assert.throws(
    () => listen(critical),
    /UnsupportedCriticalExtension/,
    "Deno now serves a certificate with a critical acmeIdentifier extension: " +
      "tls-alpn-01 can be offered (see src/acme/mod.ts)",
  );
});
