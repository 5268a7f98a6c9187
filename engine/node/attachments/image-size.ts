/**
 * Width and height from the first bytes of a PNG, GIF, WebP or JPEG file, read from the
 * headers only (never decoded). Every offset is checked against the buffer, JPEG segment
 * walking is bounded by it, and zero sizes count as unknown: a hostile header can make
 * this answer `undefined`, never throw or loop.
 */

export interface ImageSize {
  width: number;
  height: number;
}

/** How much of a file's start the upload keeps for this: JPEG's size marker can follow a large EXIF block. */
export const IMAGE_HEAD_BYTES = 256 * 1024;

export function imageSize(type: string, head: Buffer): ImageSize | undefined {
  const size = sizeOf(type, head);
  return size && size.width > 0 && size.height > 0 ? size : undefined;
}

function sizeOf(type: string, b: Buffer): ImageSize | undefined {
  switch (type) {
    case 'image/png':
      // Signature (8), then the IHDR chunk: length (4), "IHDR", width, height (big-endian).
      if (b.length < 24 || b.toString('latin1', 12, 16) !== 'IHDR') return undefined;
      return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
    case 'image/gif':
      return b.length < 10 ? undefined : { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
    case 'image/webp':
      return webpSize(b);
    case 'image/jpeg':
      return jpegSize(b);
    default:
      return undefined;
  }
}

function webpSize(b: Buffer): ImageSize | undefined {
  if (b.length < 30) return undefined;
  const chunk = b.toString('latin1', 12, 16);
  if (chunk === 'VP8X') return { width: 1 + b.readUIntLE(24, 3), height: 1 + b.readUIntLE(27, 3) };
  if (chunk === 'VP8 ') {
    // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height.
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return undefined;
    return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return undefined;
    const [b0, b1, b2, b3] = [b[21]!, b[22]!, b[23]!, b[24]!];
    return { width: 1 + (b0 | ((b1 & 0x3f) << 8)), height: 1 + ((b1 >> 6) | (b2 << 2) | ((b3 & 0x0f) << 10)) };
  }
  return undefined;
}

/** Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function jpegSize(b: Buffer): ImageSize | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  // Each step moves forward by at least 2 bytes, so the walk ends within the buffer.
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) {
      i += 2; // markers without a length
      continue;
    }
    const length = b.readUInt16BE(i + 2);
    if (length < 2) return undefined;
    if (isStartOfFrame(marker)) {
      if (i + 9 > b.length) return undefined;
      return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    }
    i += 2 + length;
  }
  return undefined;
}
