// Pictures of a status mix, drawn as SVG elements (no markup strings): the dashboard's pie of
// device statuses, whose slices link to the filtered device list, and the small ring that marks
// a location on the map with the share of each status among its devices, so a location with
// one offline device out of thirteen does not look entirely red (upstream issue #849).

import { svg, h, STATUS_ORDER, STATUS, num } from './dom.js';

const TAU = Math.PI * 2;

function point(cx, cy, r, a) {
  // Angles start at twelve o'clock and run clockwise.
  return [cx + r * Math.sin(a), cy - r * Math.cos(a)];
}

/** The path of an annular sector between angles a0 and a1 (radians). */
function sector(cx, cy, R, r, a0, a1) {
  if (a1 - a0 >= TAU - 1e-6) {
    // A full ring cannot be one arc: two halves.
    return `${sector(cx, cy, R, r, 0, Math.PI)} ${sector(cx, cy, R, r, Math.PI, TAU)}`;
  }
  const large = a1 - a0 > Math.PI ? 1 : 0;
  const [x0, y0] = point(cx, cy, R, a0);
  const [x1, y1] = point(cx, cy, R, a1);
  const [x2, y2] = point(cx, cy, r, a1);
  const [x3, y3] = point(cx, cy, r, a0);
  const f = (n) => n.toFixed(3);
  return `M${f(x0)} ${f(y0)}A${R} ${R} 0 ${large} 1 ${f(x1)} ${f(y1)}L${f(x2)} ${f(y2)}A${r} ${r} 0 ${large} 0 ${f(x3)} ${f(y3)}Z`;
}

/** Sum of the counts. */
export function total(counts) {
  return STATUS_ORDER.reduce((s, k) => s + (counts[k] || 0), 0);
}

/** "10 ok, 2 problem" (statuses with devices only). */
export function describeMix(counts) {
  const parts = STATUS_ORDER.filter((k) => counts[k] > 0).map((k) => `${num(counts[k])} ${STATUS[k].label}`);
  return parts.length ? parts.join(', ') : 'no devices';
}

/**
 * The status pie: an SVG donut whose slices are links to `href(status)`, with the total in
 * the middle. `counts` is {status: n}.
 */
export function statusPie(counts, { size = 220, href, label = 'Devices by health status' } = {}) {
  const n = total(counts);
  const c = size / 2;
  const R = c - 4;
  const r = R * 0.58;
  const root = svg('svg', {
    id: 'status-pie', class: 'pie', viewBox: `0 0 ${size} ${size}`, width: size, height: size,
    role: 'group', 'aria-label': `${label}: ${describeMix(counts)}`,
  });
  if (n === 0) {
    root.append(svg('path', { class: 'slice s-empty', d: sector(c, c, R, r, 0, TAU) }));
  } else {
    let a = 0;
    for (const k of STATUS_ORDER) {
      const v = counts[k] || 0;
      if (!v) continue;
      const a1 = a + (v / n) * TAU;
      const title = `${STATUS[k].label}: ${num(v)} device${v === 1 ? '' : 's'} (${Math.round((v / n) * 100)}%)`;
      root.append(svg('a', { href: href(k), class: 'slice-link', 'aria-label': title },
        svg('title', {}, title),
        svg('path', { class: `slice s-${k}`, d: sector(c, c, R, r, a, a1) })));
      a = a1;
    }
  }
  root.append(
    svg('text', { x: c, y: c - 4, class: 'pie-total', 'text-anchor': 'middle', 'aria-hidden': 'true' }, num(n)),
    svg('text', { x: c, y: c + 18, class: 'pie-caption', 'text-anchor': 'middle', 'aria-hidden': 'true' }, n === 1 ? 'device' : 'devices'));
  return root;
}

/** The legend of the pie: one link per status with its count. */
export function statusLegend(counts, href) {
  const n = total(counts);
  return h('ul', { class: 'legend' }, STATUS_ORDER.map((k) => {
    const v = counts[k] || 0;
    return h('li', {},
      h('a', { href: href(k), class: v ? '' : 'zero', 'aria-label': `${STATUS[k].label}: ${num(v)} device${v === 1 ? '' : 's'}${n ? ` (${Math.round((v / n) * 100)}%)` : ''}` },
        h('span', { class: `swatch s-${k}`, 'aria-hidden': 'true' }),
        h('span', { class: 'legend-label' }, STATUS[k].label),
        h('span', { class: 'legend-count' }, num(v)),
        h('span', { class: 'legend-pct' }, n ? `${Math.round((v / n) * 100)}%` : '')));
  }));
}

/**
 * A small ring of the status mix with the device count inside: the map marker of a location
 * (`size` ≈ 36) or of a cluster of locations (bigger).
 */
export function statusRing(counts, size = 36, label = '') {
  const n = total(counts);
  const c = size / 2;
  const R = c - 1;
  const r = R * 0.62;
  // With a label the ring names itself (clusters, which have no title); else it is decoration.
  const root = svg('svg', label
    ? { class: 'ring', viewBox: `0 0 ${size} ${size}`, width: size, height: size, role: 'img', 'aria-label': label, focusable: 'false' }
    : { class: 'ring', viewBox: `0 0 ${size} ${size}`, width: size, height: size, 'aria-hidden': 'true', focusable: 'false' });
  root.append(svg('circle', { cx: c, cy: c, r: R, class: 'ring-bg' }));
  if (n === 0) {
    root.append(svg('path', { class: 'slice s-empty', d: sector(c, c, R, r, 0, TAU) }));
  } else {
    let a = 0;
    for (const k of STATUS_ORDER) {
      const v = counts[k] || 0;
      if (!v) continue;
      const a1 = a + (v / n) * TAU;
      root.append(svg('path', { class: `slice s-${k}`, d: sector(c, c, R, r, a, a1) }));
      a = a1;
    }
  }
  root.append(svg('circle', { cx: c, cy: c, r: r - 0.5, class: 'ring-hole' }));
  const shown = n > 999 ? `${Math.round(n / 1000)}k` : String(n);
  root.append(svg('text', { x: c, y: c, class: 'ring-count', 'text-anchor': 'middle', 'dominant-baseline': 'central', 'aria-hidden': 'true', 'font-size': Math.round(size * (shown.length > 2 ? 0.26 : 0.33)) }, shown));
  return root;
}
