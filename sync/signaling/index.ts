/**
 * y-webrtc signaling on the node: peers of a document find each other through it, under
 * the document's write rule, then edit peer to peer (signaling-server.ts).
 */
export { SignalingServer, type SignalingOptions, type AccessCheck } from './signaling-server.js';
export { parseSignalingFrame, type SignalingFrame } from './frames.js';
