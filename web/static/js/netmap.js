// The network map of the dashboard: locations from `/api/v1/monitoring/geojson/` as markers that
// show the mix of their devices' statuses (a ring, see statusviz.js), clustered with
// Leaflet.markercluster (clusters show the mix of everything inside); a pop-up per location with
// a searchable, filterable device list; and the floor-plan view of indoor locations.
// Basemap: the configured tile server, or offline the Natural Earth countries shipped with the
// binary. `L` and `topojson` are the globals of the vendor scripts.

import { api, isAbort } from './api.js';
import { h, replace, badge, debounce, STATUS_ORDER, STATUS, num, toast } from './dom.js';
import { statusRing, describeMix, total } from './statusviz.js';
import { uid } from './ui.js';

const GEOJSON = '/api/v1/monitoring/geojson/';

/** Status counts of a GeoJSON feature's properties. */
export function countsOf(p) {
  const c = {};
  for (const k of STATUS_ORDER) c[k] = p[`${k}_count`] || 0;
  return c;
}

function ringIcon(counts, size, label) {
  return L.divIcon({
    html: statusRing(counts, size, label),
    className: 'loc-marker',
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
    popupAnchor: [0, -size / 2],
  });
}

function clusterIcon(cluster) {
  const counts = {};
  for (const m of cluster.getAllChildMarkers()) {
    for (const k of STATUS_ORDER) counts[k] = (counts[k] || 0) + ((m.options.counts && m.options.counts[k]) || 0);
  }
  const n = total(counts);
  const size = n >= 1000 ? 56 : n >= 100 ? 48 : 42;
  const places = cluster.getChildCount();
  const icon = ringIcon(counts, size, `${num(places)} locations, ${num(n)} devices (${describeMix(counts)}); press Enter to zoom in`);
  icon.options.className = 'loc-marker loc-cluster';
  return icon;
}

/** Every feature of the map endpoint (1000 per page). */
async function allFeatures(signal) {
  const out = [];
  for (let page = 1; ; page += 1) {
    const r = await api(GEOJSON, { query: { page }, signal });
    out.push(...(r.features || []));
    if (!r.next) return out;
  }
}

function markerTitle(p) {
  return `${p.name}: ${num(p.device_count)} device${p.device_count === 1 ? '' : 's'} (${describeMix(countsOf(p))})`;
}

/**
 * Creates the map in `el` (which must have a size). Returns {load, refresh, deviceStatus,
 * destroy}: `load()` fetches the locations and fits the view; `refresh()` re-reads them and
 * updates markers in place; `deviceStatus(id, status)` updates an open pop-up or floor plan.
 */
export function createMap(el, ctx) {
  const cfg = ctx.session.map || {};
  const map = L.map(el, { worldCopyJump: true, minZoom: 2, maxZoom: cfg.max_zoom || 18 });
  map.setView([20, 0], 2);
  let destroyed = false;
  const aborter = new AbortController();

  if (cfg.tile_url) {
    L.tileLayer(cfg.tile_url, { attribution: cfg.attribution || '', maxZoom: cfg.max_zoom || 18 }).addTo(map);
  } else {
    el.classList.add('map-offline');
    map.attributionControl.addAttribution('Basemap: Natural Earth');
    fetch('/static/vendor/countries-50m.json', { signal: aborter.signal })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`basemap: ${r.status}`))))
      .then((topo) => {
        if (destroyed) return;
        const land = topojson.feature(topo, topo.objects.countries);
        L.geoJSON(land, {
          interactive: false,
          renderer: L.canvas({ padding: 0.5 }),
          style: { color: '#8a949e', weight: 0.7, fillColor: '#f3f1ec', fillOpacity: 1 },
        }).addTo(map).bringToBack();
      })
      .catch((x) => { if (!isAbort(x)) toast(`The offline basemap could not be loaded (${x.message}).`, 'error'); });
  }

  const cluster = L.markerClusterGroup({
    iconCreateFunction: clusterIcon,
    maxClusterRadius: 60,
    disableClusteringAtZoom: 15,
    showCoverageOnHover: false,
    spiderfyOnMaxZoom: true,
  });
  map.addLayer(cluster);
  const markers = new Map(); // location id → marker
  let openPopup = null; // {locationId, rows: Map(deviceId → row)}
  const floorView = floorplanDialog(ctx);

  function place(f) {
    const [lng, lat] = f.geometry.coordinates;
    const p = f.properties;
    const counts = countsOf(p);
    let m = markers.get(f.id);
    if (!m) {
      m = L.marker([lat, lng], { icon: ringIcon(counts, 36), title: markerTitle(p), keyboard: true, counts, riseOnHover: true });
      m.feature = f;
      m.bindPopup(() => popupContent(m.feature), { minWidth: 260, maxWidth: 340, autoPanPadding: [20, 20] });
      m.on('popupopen', () => {
        const input = m.getPopup().getElement()?.querySelector('input[type="search"]');
        if (input) input.focus({ preventScroll: true });
      });
      m.on('popupclose', () => { if (openPopup && openPopup.locationId === f.id) openPopup = null; });
      markers.set(f.id, m);
      cluster.addLayer(m);
      return;
    }
    const before = JSON.stringify(m.options.counts);
    m.feature = f;
    m.setLatLng([lat, lng]);
    if (before !== JSON.stringify(counts)) {
      m.options.counts = counts;
      m.options.title = markerTitle(p);
      m.setIcon(ringIcon(counts, 36));
      const icon = m.getElement();
      if (icon) icon.title = markerTitle(p);
      cluster.refreshClusters(m);
    }
  }

  async function refresh() {
    const features = await allFeatures(aborter.signal);
    if (destroyed) return features;
    const seen = new Set();
    for (const f of features) {
      if (!f.geometry || !Array.isArray(f.geometry.coordinates)) continue;
      seen.add(f.id);
      place(f);
    }
    for (const [id, m] of markers) {
      if (!seen.has(id)) { cluster.removeLayer(m); markers.delete(id); }
    }
    return features;
  }

  async function load() {
    const features = await refresh();
    if (destroyed) return features;
    if (markers.size === 1) {
      const [m] = markers.values();
      map.setView(m.getLatLng(), 12);
    } else if (markers.size > 1) {
      map.fitBounds(cluster.getBounds(), { padding: [30, 30], maxZoom: 13 });
    }
    return features;
  }

  /** The pop-up of a location: title, search, status toggles, device list, floor plan. */
  function popupContent(f) {
    const p = f.properties;
    const state = { search: '', statuses: new Set(), page: 1 };
    const rows = new Map();
    openPopup = { locationId: f.id, rows };
    const list = h('ul', { class: 'pop-list', 'aria-live': 'polite' });
    const more = h('button', { type: 'button', class: 'link', hidden: true, onclick: () => fetchPage(state.page + 1, true) }, 'Show more');
    const note = h('p', { class: 'muted small', role: 'status' });
    const floorBtn = h('button', { type: 'button', hidden: true, onclick: () => { map.closePopup(); floorView.open(f); } }, 'Floor plan');
    const searchId = uid('pop-search');
    const search = h('input', { type: 'search', id: searchId, placeholder: 'Name or MAC address', autocomplete: 'off' });
    let ctl = null;

    async function fetchPage(page, append) {
      if (ctl) ctl.abort();
      ctl = new AbortController();
      note.textContent = 'Loading…';
      try {
        const r = await api(`/api/v1/monitoring/location/${f.id}/device/`, {
          query: { page, search: state.search, status: [...state.statuses] }, signal: ctl.signal,
        });
        state.page = page;
        if (!append) { list.replaceChildren(); rows.clear(); }
        for (const d of r.results) {
          const b = badge(d.monitoring.status);
          rows.set(d.id, b);
          list.append(h('li', {}, h('a', { href: `#/device/${d.id}` }, d.name), b));
        }
        more.hidden = !r.next;
        floorBtn.hidden = !r.has_floorplan;
        note.textContent = r.count ? `${num(r.count)} device${r.count === 1 ? '' : 's'}` : 'No devices match.';
      } catch (x) {
        if (!isAbort(x)) note.textContent = `Could not load the devices: ${x.message}`;
      }
    }
    const research = debounce(() => { state.search = search.value.trim(); fetchPage(1, false); }, 300);
    search.addEventListener('input', research);
    const toggles = h('div', { class: 'toggles', role: 'group', 'aria-label': 'Show only devices that are' },
      STATUS_ORDER.filter((k) => p[`${k}_count`] > 0).map((k) => h('button', {
        type: 'button', class: `toggle s-${k}`, 'aria-pressed': 'false',
        onclick: (e) => {
          const on = !state.statuses.has(k);
          if (on) state.statuses.add(k); else state.statuses.delete(k);
          e.currentTarget.setAttribute('aria-pressed', String(on));
          fetchPage(1, false);
        },
      }, `${STATUS[k].label} (${num(p[`${k}_count`])})`)));
    fetchPage(1, false);
    return h('div', { class: 'pop' },
      h('h3', {}, `${p.name} (${num(p.device_count)})`),
      p.address ? h('p', { class: 'muted small' }, p.address) : null,
      h('label', { for: searchId, class: 'small' }, 'Search devices'), search,
      toggles, note, list, more,
      h('div', { class: 'pop-actions' }, floorBtn));
  }

  function deviceStatus(deviceId, status) {
    if (openPopup) {
      const b = openPopup.rows.get(deviceId);
      if (b) { const nb = badge(status); b.replaceWith(nb); openPopup.rows.set(deviceId, nb); }
    }
    floorView.deviceStatus(deviceId, status);
  }

  return {
    map,
    load,
    refresh,
    deviceStatus,
    destroy() {
      destroyed = true;
      aborter.abort();
      floorView.close();
      floorView.remove();
      map.remove();
    },
  };
}

/**
 * The floor-plan view: a dialog with the plan image of one floor and a dot per device at its
 * indoor position (`x,y` in pixels of the image), plus the same devices as a list.
 */
function floorplanDialog() {
  const titleId = uid('fp-title');
  const title = h('h2', { id: titleId }, 'Floor plan');
  const floors = h('div', { class: 'toggles', role: 'group', 'aria-label': 'Floor' });
  const stage = h('div', { class: 'fp-stage' });
  const list = h('ul', { class: 'fp-list' });
  const note = h('p', { class: 'muted', role: 'status' });
  const dialog = h('dialog', { class: 'floorplan', 'aria-labelledby': titleId },
    h('div', { class: 'fp-head' }, title,
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close floor plan', onclick: () => close() }, '×')),
    floors, note, stage, list);
  document.body.append(dialog);
  const dots = new Map(); // device id → [dot, badge]
  let ctl = null;
  let feature = null;

  async function show(floor) {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    note.textContent = 'Loading…';
    stage.replaceChildren();
    list.replaceChildren();
    dots.clear();
    try {
      const results = [];
      let floorsList = [];
      for (let page = 1; page <= 20; page += 1) {
        const r = await api(`/api/v1/monitoring/location/${feature.id}/indoor-coordinates/`, {
          query: { floor, page, page_size: 100 }, signal: ctl.signal,
        });
        floorsList = r.floors || [];
        results.push(...r.results);
        if (!r.next) break;
      }
      const shownFloor = floor ?? (results[0] ? results[0].floor : floorsList.find((x) => x >= 0) ?? floorsList[0]);
      replace(floors, floorsList.map((n) => h('button', {
        type: 'button', class: 'toggle', 'aria-pressed': String(n === shownFloor), onclick: () => show(n),
      }, `Floor ${n}`)));
      for (const r of results) {
        const b = badge(r.monitoring.status);
        dots.set(r.device_id, [null, b]);
        list.append(h('li', {}, h('a', { href: `#/device/${r.device_id}`, onclick: () => close() }, r.device_name), ' ', b));
      }
      const image = results.find((r) => r.image)?.image;
      if (!image) {
        note.textContent = results.length ? 'This floor has no plan image.' : 'No devices are placed on this floor.';
      } else {
        note.textContent = `${num(results.length)} device${results.length === 1 ? '' : 's'} on floor ${shownFloor}.`;
        const img = h('img', { src: image, alt: `Plan of floor ${shownFloor} of ${feature.properties.name}` });
        stage.append(img);
        const placeDots = () => {
          const w = img.naturalWidth || 1;
          const ht = img.naturalHeight || 1;
          for (const r of results) {
            const dot = h('a', {
              href: `#/device/${r.device_id}`, class: `fp-dot s-${r.monitoring.status}`,
              'aria-label': `${r.device_name}: ${r.monitoring.status}`, onclick: () => close(),
            }, h('span', { class: 'fp-label' }, r.device_name));
            // Positions are pixels of the image from its top-left corner; scale with the image.
            dot.style.left = `${(Math.max(0, Math.min(w, r.coordinates.lng)) / w) * 100}%`;
            dot.style.top = `${(Math.max(0, Math.min(ht, Math.abs(r.coordinates.lat))) / ht) * 100}%`;
            stage.append(dot);
            const entry = dots.get(r.device_id);
            if (entry) entry[0] = dot;
          }
        };
        if (img.complete && img.naturalWidth) placeDots(); else img.addEventListener('load', placeDots, { once: true });
        img.addEventListener('error', () => { note.textContent = 'The plan image could not be loaded.'; }, { once: true });
      }
    } catch (x) {
      if (!isAbort(x)) note.textContent = `Could not load the floor plan: ${x.message}`;
    }
  }

  function open(f) {
    feature = f;
    title.textContent = `${f.properties.name}: floor plan`;
    if (!dialog.open) dialog.showModal();
    show(undefined);
  }

  function close() {
    if (ctl) ctl.abort();
    if (dialog.open) dialog.close();
  }

  function deviceStatus(id, status) {
    const e = dots.get(id);
    if (!e) return;
    const [dot, b] = e;
    if (dot) {
      for (const k of STATUS_ORDER) dot.classList.remove(`s-${k}`);
      dot.classList.add(`s-${status}`);
      dot.setAttribute('aria-label', `${dot.textContent}: ${status}`);
    }
    const nb = badge(status);
    b.replaceWith(nb);
    e[1] = nb;
  }

  return { open, close, deviceStatus, remove: () => dialog.remove() };
}
