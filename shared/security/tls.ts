/**
 * Mutual TLS for Waltham links (node:tls): both sides present a certificate
 * signed by a CA they share, and each verifies the other's. The receiver
 * requires a client certificate; the transmitter checks that the receiver's
 * certificate names the host it connects to (or `serverName`).
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

/** PEM files: our certificate and key, and the CA the peer's certificate must chain to. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** The files' contents, read once at start. */
export interface TlsCredentials {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
  /** Client side: the name the receiver's certificate must carry; default the host connected to. */
  readonly serverName?: string;
}

export class TlsSetupError extends Error {
  readonly code = 'ERR_TLS_SETUP';
}

export function readTlsFiles(files: TlsFiles, serverName?: string): TlsCredentials {
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new TlsSetupError(`${what} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  };
  return { cert: read('--tls-cert', files.cert), key: read('--tls-key', files.key), ca: read('--tls-ca', files.ca), ...(serverName !== undefined ? { serverName } : {}) };
}

/** Options of the receiver's TLS server: a client certificate is requested; the server refuses a peer that is not `authorized`. */
export function serverTlsOptions(c: TlsCredentials): tls.TlsOptions {
  // rejectUnauthorized is false so that the server checks `authorized` itself and says why it refuses.
  return { cert: c.cert, key: c.key, ca: c.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' };
}

/** Options of the transmitter's TLS connection: the receiver's certificate is verified. */
export function clientTlsOptions(c: TlsCredentials, host: string): tls.ConnectionOptions {
  const serverName = c.serverName ?? host;
  // SNI takes host names only; the certificate check takes IP addresses too.
  const isIp = /^[\d.]+$/.test(serverName) || serverName.includes(':');
  return {
    cert: c.cert,
    key: c.key,
    ca: c.ca,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ...(isIp ? {} : { servername: serverName }),
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(serverName, cert),
  };
}

/** The identity a verified certificate gives its holder: its subject's common name. */
export function certificateIdentity(socket: tls.TLSSocket): string | null {
  const cert = socket.getPeerCertificate();
  const cn = cert?.subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  return typeof name === 'string' && name !== '' ? name : null;
}

/** A TLS failure in words a person setting up certificates can act on. */
export function describeTlsError(err: Error, side: 'transmitter' | 'receiver'): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const peer = side === 'receiver' ? "the transmitter's" : "the receiver's";
  const known: Record<string, string> = {
    CERT_HAS_EXPIRED: `${peer} certificate has expired`,
    CERT_NOT_YET_VALID: `${peer} certificate is not valid yet`,
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: `${peer} certificate is not signed by our CA (--tls-ca)`,
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: `${peer} certificate is not signed by our CA (--tls-ca)`,
    DEPTH_ZERO_SELF_SIGNED_CERT: `${peer} certificate is self-signed, not signed by our CA (--tls-ca)`,
    SELF_SIGNED_CERT_IN_CHAIN: `${peer} certificate chains to a CA that is not ours (--tls-ca)`,
    CERT_SIGNATURE_FAILURE: `${peer} certificate has a bad signature`,
    ERR_TLS_CERT_ALTNAME_INVALID: `${peer} certificate does not name this host (${err.message})`,
    ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: `${side === 'receiver' ? 'the transmitter' : 'the receiver'} does not accept our certificate (not signed by its CA)`,
    ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: `${side === 'receiver' ? 'the transmitter' : 'the receiver'} refused our certificate: it has expired`,
    ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: `${side === 'receiver' ? 'the transmitter' : 'the receiver'} refused our certificate`,
    ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the receiver requires a client certificate (--tls-cert, --tls-key)',
    ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: 'the transmitter sent no certificate (it needs --tls-cert, --tls-key)',
    UNABLE_TO_GET_ISSUER_CERT: `${peer} certificate is not signed by our CA (--tls-ca)`,
    ERR_SSL_WRONG_VERSION_NUMBER: side === 'receiver' ? 'the transmitter does not speak TLS (start it with --tls-cert, --tls-key, --tls-ca)' : 'the receiver does not speak TLS',
    ERR_SSL_HTTP_REQUEST: 'the peer does not speak TLS',
    ERR_TLS_HANDSHAKE_TIMEOUT: 'the TLS handshake did not finish in time',
    ECONNRESET: `${side === 'receiver' ? 'the transmitter' : 'the receiver'} closed the connection during the TLS handshake (does it use TLS, with our CA?)`,
  };
  return `TLS: ${known[code] ?? err.message}${code !== '' && known[code] !== undefined ? ` [${code}]` : ''}`;
}
