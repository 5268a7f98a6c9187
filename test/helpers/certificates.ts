/**
 * Certificates made in the test, with the `openssl` CLI: a certificate authority the test
 * trusts and certificates it signs for 127.0.0.1 / localhost (usable by servers and as
 * client certificates). EC P-256 keys, valid for two days; nothing is shared between runs.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Authority {
  certFile: string;
  keyFile: string;
  /** The CA certificate, PEM: what a client passes as `ca`. */
  pem: string;
}

export interface Issued {
  certFile: string;
  keyFile: string;
  /** As `tls.TLSSocket.getPeerCertificate().fingerprint256` reports it. */
  fingerprint256: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A self-signed CA in `dir`, files named after `name`. */
export function certificateAuthority(dir: string, name = 'ca'): Authority {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  openssl(['req', '-x509', ...EC_KEY, '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=Parley test ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { certFile, keyFile, pem: readFileSync(certFile, 'utf8') };
}

/** A certificate for 127.0.0.1 and localhost signed by `ca`, for server and client use; files `<name>.crt`/`.key` in `dir`. */
export function issueCertificate(ca: Authority, dir: string, name: string): Issued {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n');
  openssl(['req', '-new', ...EC_KEY, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '2', '-extfile', ext, '-out', certFile]);
  return { certFile, keyFile, fingerprint256: new X509Certificate(readFileSync(certFile)).fingerprint256 };
}
