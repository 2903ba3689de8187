/**
 * The JSON of the transmitter's and receiver's status endpoint, version 1
 * (walt/status-contract.md).
 */

export const STATUS_PORT = 34401;
export const RECEIVER_PORT = 34400;

export type LinkState = 'connected' | 'connecting' | 'down';

export interface SurfaceStatus {
  readonly id: number;
  readonly app_id: string | null;
  readonly title: string | null;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly bytes_per_s: number;
  readonly receivers?: readonly string[];
}

export interface ReceiverLinkStatus {
  readonly name: string;
  readonly address: string;
  readonly state: LinkState;
  readonly since: string;
  readonly reconnects: number;
  readonly last_error: string | null;
  readonly bytes_per_s: number;
}

interface CommonStatus {
  readonly api: number;
  readonly version: string;
  readonly hostname: string;
  readonly pid: number;
  readonly started: string;
  readonly uptime_s: number;
}

export interface TransmitterStatus extends CommonStatus {
  readonly service: 'waltham-transmitter';
  readonly display: string;
  readonly receivers: readonly ReceiverLinkStatus[];
  readonly surfaces: readonly SurfaceStatus[];
  readonly persisted: string | null;
}

export interface TransmitterPeerStatus {
  readonly peer: string;
  readonly state: LinkState;
  readonly since: string;
  readonly bytes_per_s: number;
  readonly surfaces: readonly SurfaceStatus[];
}

export interface ReceiverStatus extends CommonStatus {
  readonly service: 'waltham-receiver';
  readonly listen: string;
  readonly transmitters: readonly TransmitterPeerStatus[];
}

export interface LogLine {
  readonly time: string;
  readonly level: string;
  readonly msg: string;
}

export interface StatusError {
  readonly error: string;
  readonly code: string;
  readonly status_code: number;
}
