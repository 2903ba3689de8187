/**
 * The security options both commands take (parsed before anything heavy is
 * loaded; shared/security/config.ts reads the files they name).
 */
export const SECURITY_OPTIONS = {
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'token-file': { type: 'string' },
} as const;

export const SECURITY_USAGE = `  --tls-cert FILE           TLS: our certificate (PEM); with --tls-key and --tls-ca
  --tls-key FILE            TLS: its private key (PEM)
  --tls-ca FILE             TLS: the CA the peer's certificate must be signed by (PEM)
  --token-file FILE         a shared secret to prove before anything else (NAME SECRET lines)
`;

/** The values of SECURITY_OPTIONS as parsed. */
export interface SecurityValues {
  readonly 'tls-cert'?: string | undefined;
  readonly 'tls-key'?: string | undefined;
  readonly 'tls-ca'?: string | undefined;
  readonly 'token-file'?: string | undefined;
}
