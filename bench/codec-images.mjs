// Writes real images as full-HD BGRA frames (`NAME.1920x1080.bgra`) into the directory given as
// the first argument, for the codec benchmark of the native shim (bench/README.md, "Codecs"):
// weston's background photo and a few UI-like pictures found on the machine. Missing ones are
// skipped with a note.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const out = process.argv[2];
if (!out) {
  console.error('usage: node bench/codec-images.mjs OUTDIR');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const images = {
  photo: '/usr/share/weston/background.png',
  chart: '/usr/share/doc/nodejs/contributing/doc_img/scatter-plot.png',
  boxplot: '/usr/share/doc/nodejs/contributing/doc_img/compare-boxplot.png',
};
for (const [name, file] of Object.entries(images)) {
  if (!existsSync(file)) {
    console.log(`skip ${name}: ${file} is missing`);
    continue;
  }
  // Full HD, RGBA from sharp; swapped to wl_shm's B,G,R,A byte order.
  const { data } = await sharp(file).resize(1920, 1080, { fit: 'fill' }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < data.length; i += 4) {
    const r = data[i];
    data[i] = data[i + 2];
    data[i + 2] = r;
  }
  writeFileSync(join(out, `${name}.1920x1080.bgra`), data);
  console.log(`${name}: ${file}`);
}
