/**
 * The certificate the node serves HTTPS and WSS with (PARLEY_TLS_CERT, PARLEY_TLS_KEY).
 * Read at start-up and again on `reloadTls()` (SIGHUP in `parley serve`), so a renewed
 * certificate is taken without a restart: new connections get the new context, open ones
 * keep the one they shook hands with. A reload that cannot use the files (missing, not
 * PEM, a key that is not the certificate's) is logged and the context in use is kept:
 * a renewal job that writes half a file must not take the node down.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { FastifyBaseLogger } from 'fastify';
import { StartupError, type ServerTlsFiles } from './config/index.js';

/** The PEM contents of `files`, checked: OpenSSL has parsed them and the key matches the certificate. */
export function readServerTls(files: ServerTlsFiles): SecureContextOptions {
  const options = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  createSecureContext(options);
  new X509Certificate(options.cert); // so describeCertificate cannot fail later
  return options;
}

/** `readServerTls` at start-up: a failure is a StartupError naming the files and settings. */
export function loadServerTls(files: ServerTlsFiles): SecureContextOptions {
  try {
    return readServerTls(files);
  } catch (err) {
    throw new StartupError(
      `cannot serve HTTPS with ${files.certFile} and ${files.keyFile}: ${(err as Error).message}; ` +
        'PARLEY_TLS_CERT must be a PEM certificate (chain) and PARLEY_TLS_KEY its PEM private key, unencrypted',
      { cause: err },
    );
  }
}

/** What the log says about a certificate: enough to tell an old one from a new one. */
export function describeCertificate(options: SecureContextOptions): { subject: string; validTo: string; fingerprint256: string } {
  const cert = new X509Certificate(options.cert as Buffer);
  return { subject: cert.subject, validTo: cert.validTo, fingerprint256: cert.fingerprint256 };
}

interface SecureServer {
  setSecureContext(options: SecureContextOptions): void;
}

/** Re-reads the files into `server`; never throws. True when the new certificate is in use. */
export function reloadServerTls(server: SecureServer, files: ServerTlsFiles, log: FastifyBaseLogger): boolean {
  try {
    const options = readServerTls(files);
    const certificate = describeCertificate(options);
    server.setSecureContext(options);
    log.info({ certificate }, 'TLS certificate reloaded');
    return true;
  } catch (err) {
    log.error({ err, certFile: files.certFile, keyFile: files.keyFile }, 'TLS certificate reload failed: still serving the previous certificate');
    return false;
  }
}
