// plot_capture's pictures: a Vega-Lite specification per kind of chart, compiled to Vega, drawn
// headless to SVG by Vega's own renderer, then rasterised to PNG by resvg. The text is set in
// DejaVu Sans from the dejavu-fonts-ttf package, never the system's fonts: a machine with none
// (a CI runner, a container) draws the same picture. Vega, Vega-Lite and resvg are loaded by the
// first picture, not at start-up: they took half a second of every server start, and most calls
// draw nothing.
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as VegaModule from 'vega';
import type { TopLevelSpec } from 'vega-lite';

/** The picture's size when a chart does not need more (legible in a chat client at 1:1). */
export const PLOT_SIZE = { width: 900, height: 450 } as const;

const FONT = 'DejaVu Sans';
const fontDir = path.join(
  path.dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')),
  'ttf',
);
const FONT_FILES = [path.join(fontDir, 'DejaVuSans.ttf'), path.join(fontDir, 'DejaVuSans-Bold.ttf')];

/** Colours that tell marks apart for most colour-blind readers too (Vega's tableau10). */
export const COLOURS = {
  data: '#4c78a8',
  retransmission: '#e45756',
  zeroWindow: '#f58518',
  lane: '#9d9d9d',
} as const;

const CONFIG = {
  font: FONT,
  axis: { labelFontSize: 12, titleFontSize: 13 },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 400 },
  title: { fontSize: 15 },
  background: 'white',
};

/** A chart's PNG: Vega-Lite to Vega, Vega to SVG (headless), SVG to PNG. */
export async function renderPng(spec: TopLevelSpec): Promise<Buffer> {
  const [vega, vl, { Resvg }] = await Promise.all([
    import('vega'),
    import('vega-lite'),
    import('@resvg/resvg-js'),
  ]);
  // Padding keeps the title and the outermost labels inside the picture.
  const compiled = vl.compile({ padding: 12, ...spec, config: CONFIG }).spec;
  // renderer 'none': no canvas; toSVG draws the scenegraph to a string. The loader refuses every
  // URL: the data is inline, and a chart must never fetch anything.
  const view = new vega.View(vega.parse(compiled), {
    renderer: 'none',
    loader: {
      load: () => Promise.reject(new Error('plots read no URLs')),
      sanitize: () => Promise.reject(new Error('plots read no URLs')),
      http: () => Promise.reject(new Error('plots read no URLs')),
      file: () => Promise.reject(new Error('plots read no files')),
    } as unknown as VegaModule.Loader,
  });
  try {
    const svg = await view.toSVG();
    const resvg = new Resvg(svg, {
      background: 'white',
      font: {
        fontFiles: FONT_FILES,
        loadSystemFonts: false,
        defaultFontFamily: FONT,
        sansSerifFamily: FONT,
      },
    });
    return resvg.render().asPng();
  } finally {
    view.finalize();
  }
}

/** A one-panel chart's title and size: the whole picture, axes and legend included, is PLOT_SIZE. */
function frame(title: string): {
  title: string;
  width: number;
  height: number;
  autosize: { type: 'fit'; contains: 'padding' };
} {
  return {
    title,
    width: PLOT_SIZE.width,
    height: PLOT_SIZE.height,
    autosize: { type: 'fit', contains: 'padding' },
  };
}

export interface XYPoint {
  readonly x: number;
  readonly y: number;
  readonly series: string;
}

/** Lines (with points where they are few) of y over x, one colour per series, with a legend. */
export function lineSpec(opts: {
  title: string;
  xTitle: string;
  yTitle: string;
  points: readonly XYPoint[];
  seriesTitle: string;
}): TopLevelSpec {
  return {
    ...frame(opts.title),
    data: { values: opts.points as XYPoint[] },
    mark: { type: 'line', point: opts.points.length <= 200, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: opts.xTitle },
      y: { field: 'y', type: 'quantitative', title: opts.yTitle },
      color: { field: 'series', type: 'nominal', title: opts.seriesTitle, legend: { orient: 'bottom' } },
    },
  };
}

/** Two stacked line charts over the same x: the I/O graph's packets and bytes per second. */
export function ioSpec(opts: {
  title: string;
  packets: readonly XYPoint[];
  bytes: readonly XYPoint[];
}): TopLevelSpec {
  const panel = (values: readonly XYPoint[], yTitle: string, xTitle: string | null) => ({
    width: PLOT_SIZE.width - 160,
    height: 140,
    data: { values: values as XYPoint[] },
    mark: { type: 'line' as const, strokeWidth: 1.5, interpolate: 'step-after' as const },
    encoding: {
      x: { field: 'x', type: 'quantitative' as const, title: xTitle },
      y: { field: 'y', type: 'quantitative' as const, title: yTitle },
      color: {
        field: 'series',
        type: 'nominal' as const,
        title: 'series',
        legend: { orient: 'bottom' as const },
      },
    },
  });
  return {
    title: opts.title,
    vconcat: [panel(opts.packets, 'packets / s', null), panel(opts.bytes, 'bytes / s', 'time (seconds)')],
    resolve: { scale: { color: 'shared' } },
  };
}

export interface MarkedPoint {
  readonly x: number;
  readonly y: number;
  readonly mark: string;
}

/** Points of y over x, each kind of mark in its own colour and shape (`marks`: name to colour). */
export function markedPointsSpec(opts: {
  title: string;
  xTitle: string;
  yTitle: string;
  points: readonly MarkedPoint[];
  marks: readonly { name: string; colour: string; shape: string }[];
}): TopLevelSpec {
  return {
    ...frame(opts.title),
    data: { values: opts.points as MarkedPoint[] },
    mark: { type: 'point', filled: true, size: 18 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: opts.xTitle },
      y: { field: 'y', type: 'quantitative', title: opts.yTitle },
      color: {
        field: 'mark',
        type: 'nominal',
        title: null,
        scale: { domain: opts.marks.map((m) => m.name), range: opts.marks.map((m) => m.colour) },
        legend: { orient: 'bottom' },
      },
      shape: {
        field: 'mark',
        type: 'nominal',
        scale: { domain: opts.marks.map((m) => m.name), range: opts.marks.map((m) => m.shape) },
      },
      order: { field: 'order', type: 'quantitative' },
      size: { condition: { test: 'datum.order > 0', value: 45 }, value: 18 },
    },
    // Drawn in the order of `marks`: the last kind lies on top of the others.
    transform: [
      { calculate: `indexof(${JSON.stringify(opts.marks.map((m) => m.name))}, datum.mark)`, as: 'order' },
    ],
  };
}

export interface FlowArrow {
  readonly row: number;
  readonly from: number;
  readonly to: number;
  readonly label: string;
}

/** Pixels per message row of the flow diagram. */
const FLOW_ROW = 26;

/**
 * A sequence diagram: a vertical lane per participant, a horizontal arrow per message from the
 * sender's lane to the receiver's, labelled above, in the order they were captured.
 */
export function flowSpec(opts: {
  title: string;
  participants: readonly string[];
  arrows: readonly FlowArrow[];
}): TopLevelSpec {
  const rows = Math.max(opts.arrows.length, 1);
  const n = opts.participants.length;
  const x = { field: 'x', type: 'quantitative' as const, axis: null, scale: { domain: [-0.5, n - 0.5] } };
  const y = {
    field: 'y',
    type: 'quantitative' as const,
    axis: null,
    scale: { domain: [-1.2, rows], reverse: true },
  };
  const lanes = opts.participants.map((name, i) => ({ x: i, y: -0.7, y2: rows, name }));
  const arrows = opts.arrows.map((a) => ({
    x: a.from,
    x2: a.to,
    y: a.row,
    mid: (a.from + a.to) / 2,
    label: a.label,
    head: a.to >= a.from ? 'triangle-right' : 'triangle-left',
  }));
  return {
    title: opts.title,
    width: PLOT_SIZE.width - 40,
    height: rows * FLOW_ROW + 40,
    // No frame around the lanes: a sequence diagram has none.
    view: { stroke: null },
    layer: [
      {
        data: { values: lanes },
        mark: { type: 'rule', color: COLOURS.lane, strokeDash: [4, 3] },
        encoding: { x, y, y2: { field: 'y2' } },
      },
      {
        data: { values: lanes },
        mark: { type: 'text', fontSize: 13, fontWeight: 'bold', baseline: 'bottom' },
        encoding: { x, y, text: { field: 'name' } },
      },
      {
        data: { values: arrows },
        mark: { type: 'rule', color: COLOURS.data, strokeWidth: 1.5 },
        encoding: { x, x2: { field: 'x2' }, y },
      },
      {
        data: { values: arrows },
        mark: { type: 'point', filled: true, size: 60, color: COLOURS.data },
        encoding: {
          x: { ...x, field: 'x2' },
          y,
          shape: { field: 'head', type: 'nominal', scale: null, legend: null },
        },
      },
      {
        data: { values: arrows },
        mark: { type: 'text', fontSize: 11, baseline: 'bottom', dy: -2, limit: 760 },
        encoding: { x: { ...x, field: 'mid' }, y, text: { field: 'label' } },
      },
    ],
  };
}
