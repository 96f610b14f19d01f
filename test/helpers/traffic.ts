// The traffic helpers live with the demo, which makes the same kind of traffic.
export * from '../../src/demo/traffic.js';
