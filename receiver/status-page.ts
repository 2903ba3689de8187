/**
 * The receiver's status page for people (`GET /`): one card per connected
 * transmitter with a live thumbnail of its windows (reloaded a few times a
 * second), its windows' names, sizes and rates, and a plot of frames per
 * second and bandwidth over the last minutes as inline SVG (re-fetched every
 * two seconds). Plain HTML and a few lines of script; nothing to install.
 */
import type { Sample } from '../shared/status/rates.js';

export interface PageTransmitter {
  readonly peer: string;
  readonly since: string;
  readonly bytesPerSecond: number;
  readonly surfaces: readonly { id: number; app_id: string | null; title: string | null; width: number; height: number; fps: number }[];
  readonly samples: readonly Sample[];
}

/** The plot's colours: frames per second and bandwidth. */
export const PLOT_FPS_COLOUR = '#d01c8b';
export const PLOT_BANDWIDTH_COLOUR = '#1f78b4';
const PLOT_W = 360;
const PLOT_H = 120;

const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond >= 1e6) return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
  if (bytesPerSecond >= 1e3) return `${(bytesPerSecond / 1e3).toFixed(1)} kB/s`;
  return `${Math.round(bytesPerSecond)} B/s`;
}

/** fps (left scale) and bandwidth (right scale) over time, as an <svg> element. */
export function plotSvg(samples: readonly Sample[], minutes = 5): string {
  const span = minutes * 60;
  const end = samples.length > 0 ? samples[samples.length - 1]!.t : 0;
  const maxFps = Math.max(10, ...samples.map((s) => s.fps));
  const maxBw = Math.max(1000, ...samples.map((s) => s.bytesPerSecond));
  const x = (t: number): number => PLOT_W - ((end - t) / span) * PLOT_W;
  const line = (value: (s: Sample) => number, max: number): string =>
    samples
      .filter((s) => end - s.t <= span)
      .map((s) => `${x(s.t).toFixed(1)},${(PLOT_H - 4 - (value(s) / max) * (PLOT_H - 8)).toFixed(1)}`)
      .join(' ');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PLOT_W}" height="${PLOT_H + 16}" viewBox="0 0 ${PLOT_W} ${PLOT_H + 16}" role="img">`,
    `<title>frames per second and bandwidth, last ${minutes} minutes</title>`,
    `<rect x="0" y="0" width="${PLOT_W}" height="${PLOT_H}" fill="#f6f6f6" stroke="#ccc"/>`,
    `<polyline fill="none" stroke="${PLOT_BANDWIDTH_COLOUR}" stroke-width="3" points="${line((s) => s.bytesPerSecond, maxBw)}"/>`,
    `<polyline fill="none" stroke="${PLOT_FPS_COLOUR}" stroke-width="3" points="${line((s) => s.fps, maxFps)}"/>`,
    `<text x="4" y="${PLOT_H + 13}" font-size="11" fill="${PLOT_FPS_COLOUR}">fps (max ${maxFps.toFixed(0)})</text>`,
    `<text x="${PLOT_W - 4}" y="${PLOT_H + 13}" font-size="11" text-anchor="end" fill="${PLOT_BANDWIDTH_COLOUR}">${formatRate(maxBw)} max</text>`,
    '</svg>',
  ].join('');
}

function card(t: PageTransmitter): string {
  const q = encodeURIComponent(t.peer);
  const rows = t.surfaces
    .map((s) => `<li>${escape(s.app_id ?? '(no app_id)')} — ${escape(s.title ?? '')} ${s.width}×${s.height}, ${s.fps} fps</li>`)
    .join('');
  return [
    `<section class="tx" data-peer="${escape(t.peer)}">`,
    `<h2>${escape(t.peer)}</h2>`,
    `<p>connected since ${escape(t.since)}, ${formatRate(t.bytesPerSecond)}</p>`,
    `<img class="thumb" alt="windows of ${escape(t.peer)}" src="/thumbnail.png?peer=${q}">`,
    `<div class="plot">${plotSvg(t.samples)}</div>`,
    `<ul>${rows}</ul>`,
    '</section>',
  ].join('');
}

export function statusPage(title: string, transmitters: readonly PageTransmitter[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>
body { font-family: sans-serif; margin: 16px; background: #fff; color: #222; }
.tx { display: inline-block; vertical-align: top; border: 1px solid #ccc; padding: 8px; margin: 0 8px 8px 0; }
.tx h2 { font-size: 16px; margin: 0 0 4px; }
.thumb { display: block; width: 240px; height: 160px; object-fit: contain; background: #333; }
</style></head><body>
<h1>${escape(title)}</h1>
<p id="count">${transmitters.length} transmitter${transmitters.length === 1 ? '' : 's'}</p>
<div id="transmitters">${transmitters.map(card).join('')}</div>
<script>
const peers = ${JSON.stringify(transmitters.map((t) => t.peer))};
setInterval(() => {
  for (const img of document.querySelectorAll('img.thumb')) {
    const next = new Image();
    next.onload = () => { img.src = next.src; };
    next.src = img.src.replace(/&t=\\d+$/, '') + '&t=' + Date.now();
  }
}, 300);
setInterval(async () => {
  const status = await (await fetch('/status')).json();
  const now = status.transmitters.map((t) => t.peer);
  if (now.join() !== peers.join()) { location.reload(); return; }
  for (const section of document.querySelectorAll('section.tx')) {
    const plot = await fetch('/plot.svg?peer=' + encodeURIComponent(section.dataset.peer));
    if (plot.ok) section.querySelector('.plot').innerHTML = await plot.text();
  }
}, 2000);
</script>
</body></html>
`;
}
