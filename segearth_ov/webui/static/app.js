// SegEarth-OV map page: talks to the JSON API of segearth_ov/webui/app.py.
'use strict';
const $ = (id) => document.getElementById(id);
const state = { scene: null, job: null, map: null, base: null, overlay: null, hidden: new Set(), poll: null, basemap: null };

// the per-launch token: from the address the server printed (#token=…), kept for this tab
const TOKEN = (() => {
  const given = new URLSearchParams(location.hash.slice(1)).get('token')
    || new URLSearchParams(location.search).get('token');
  if (given) sessionStorage.setItem('segearth-token', given);
  return given || sessionStorage.getItem('segearth-token') || '';
})();
const withToken = (url) => url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(TOKEN);

async function api(url, options = {}) {
  const r = await fetch(url, { ...options, headers: { ...(options.headers || {}), 'X-SegEarth-Token': TOKEN } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || (body.detail && JSON.stringify(body.detail)) || r.statusText);
  return body;
}
// every piece of the page made from data is a DOM node with text, never parsed HTML
function el(tag, text = '', className = '') {
  const node = document.createElement(tag);
  if (text !== '') node.textContent = String(text);
  if (className) node.className = className;
  return node;
}
function showError(err) { $('error').textContent = err ? String(err.message || err) : ''; }
function query() {
  const q = new URLSearchParams({ token: TOKEN });
  if ($('bands').value.trim()) q.set('bands', $('bands').value.trim());
  if ($('stretch').value.trim()) q.set('stretch', $('stretch').value.trim());
  return '?' + q.toString();
}

// ------------------------------------------------------------------ map
function basemapHost() { return new URL(state.basemap.replace(/[{}]/g, '')).host; }
function makeMap(simple) {
  if (state.map) state.map.remove();
  state.base = state.overlay = null;
  state.map = L.map('map', simple ? { crs: L.CRS.Simple, minZoom: -6, maxZoom: 6 } : { maxZoom: 22 });
  state.map.on('click', pixelQuery);
}
function showScene(scene) {
  state.scene = scene;
  $('scene-info').textContent = `${scene.name}: ${scene.width} × ${scene.height} px, ${scene.bands} band(s) ${scene.dtype}, `
    + (scene.crs ? `CRS ${scene.crs}` : 'no CRS (image view)');
  makeMap(!scene.georeferenced);
  if (scene.georeferenced) {
    if (state.basemap) L.tileLayer(state.basemap, { maxZoom: 22, attribution: basemapHost() }).addTo(state.map);
    state.base = L.tileLayer(baseUrl(scene), { maxZoom: 22, tileSize: 256 });
    state.base.addTo(state.map);
    state.map.fitBounds(scene.bounds);
  } else {
    const b = [[-scene.height, 0], [0, scene.width]];
    state.base = L.imageOverlay(baseUrl(scene), b).addTo(state.map);
    state.map.fitBounds(b);
  }
  $('run').disabled = false;
}

// ------------------------------------------------------------------ scene input
$('upload').addEventListener('change', async () => {
  const f = $('upload').files[0];
  if (!f) return;
  showError(''); $('scene-info').textContent = `uploading ${f.name} …`;
  try {
    showScene(await api(`/api/scenes?name=${encodeURIComponent(f.name)}`,
      { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: f }));
  } catch (err) { $('scene-info').textContent = ''; showError(err); }
});
$('pick').addEventListener('change', async () => {
  if (!$('pick').value) return;
  showError('');
  try {
    showScene(await api('/api/scenes/pick', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ path: $('pick').value }) }));
  } catch (err) { showError(err); }
});
$('preset').addEventListener('change', () => { if ($('preset').value) $('classes').value = $('preset').value; });

// ------------------------------------------------------------------ jobs
$('run').addEventListener('click', async () => {
  showError('');
  const model_options = {};
  for (const k of ['clip_type', 'model_type', 'upsampler', 'prob_thd']) if ($(k).value) model_options[k] = $(k).value;
  try {
    const job = await api('/api/jobs', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ scene: state.scene.id, classes: $('classes').value, model_options,
        bands: $('bands').value.trim() || null, stretch: $('stretch').value.trim() || null }) });
    history.replaceState(null, '', `?job=${job.id}${location.hash}`);
    follow(job);
  } catch (err) { showError(err); }
});
$('cancel').addEventListener('click', async () => {
  if (state.job) follow(await api(`/api/jobs/${state.job.id}/cancel`, { method: 'POST' }));
});

function follow(job) {
  state.job = job;
  clearTimeout(state.poll);
  const active = job.state === 'queued' || job.state === 'running';
  $('cancel').hidden = !active; $('run').disabled = active;
  $('progress').hidden = !active;
  $('progress').max = job.progress.total || 1; $('progress').value = job.progress.done;
  $('status').textContent = `job ${job.id}: ${job.state}` + (job.queue_position ? ` (${job.queue_position} ahead)` : '')
    + (job.message ? ` — ${job.message}` : '');
  if (job.state === 'failed') showError(job.message);
  if (active) state.poll = setTimeout(async () => follow(await api(`/api/jobs/${job.id}`)), 500);
  else if (job.state === 'done') showResult(job);
}

function overlayUrl() {
  const hide = [...state.hidden].join(',');
  const q = `?token=${encodeURIComponent(TOKEN)}` + (hide ? `&hide=${hide}` : '');
  return state.scene.georeferenced ? `/api/jobs/${state.job.id}/tiles/{z}/{x}/{y}.png${q}` : `/api/jobs/${state.job.id}/image.png${q}`;
}
function baseUrl(scene) {
  return scene.georeferenced ? `/api/scenes/${scene.id}/tiles/{z}/{x}/{y}.png${query()}` : `/api/scenes/${scene.id}/image.png${query()}`;
}
function showResult(job) {
  const res = job.result, opacity = parseFloat($('opacity').value);
  if (state.base) state.base.setUrl(baseUrl(state.scene));   // the bands and stretch of the run
  if (state.overlay) state.map.removeLayer(state.overlay);
  document.body.dataset.overlay = 'loading';
  state.overlay = state.scene.georeferenced
    ? L.tileLayer(overlayUrl(), { maxZoom: 22, opacity })
    : L.imageOverlay(overlayUrl(), [[-state.scene.height, 0], [0, state.scene.width]], { opacity });
  state.overlay.on('load', () => { document.body.dataset.overlay = 'loaded'; });
  state.overlay.addTo(state.map);
  $('result').hidden = false;
  const legend = $('legend'); legend.replaceChildren();
  const rows = $('areas').querySelector('tbody'); rows.replaceChildren();
  res.classes.forEach((c, i) => {
    const [r, g, b] = job.colours[i];
    const box = el('input'); box.type = 'checkbox'; box.dataset.index = i; box.checked = !state.hidden.has(i);
    box.addEventListener('change', (e) => {
      if (e.target.checked) state.hidden.delete(i); else state.hidden.add(i);
      state.overlay.setUrl(overlayUrl());
    });
    const swatch = el('span', '', 'swatch'); swatch.style.background = `rgb(${r},${g},${b})`;
    const label = el('label'); label.append(box, swatch, el('span', c.synonyms.join(', '), 'name'));
    const li = el('li'); li.append(label);
    legend.appendChild(li);
    const tr = el('tr');
    for (const v of [c.name, c.pixels.toLocaleString(), (100 * c.fraction).toFixed(1),
      c.area_m2 === null ? '—' : Math.round(c.area_m2).toLocaleString()]) tr.appendChild(el('td', v));
    rows.appendChild(tr);
  });
  for (const k of ['labels', 'overlay', 'summary']) $(`dl-${k}`).href = withToken(`/api/jobs/${job.id}/download/${k}`);
  for (const f of ['gpkg', 'geojson', 'fgb']) $(`dl-polygons-${f}`).href = withToken(`/api/jobs/${job.id}/download/polygons?format=${f}`);
}
$('opacity').addEventListener('input', () => { if (state.overlay) state.overlay.setOpacity(parseFloat($('opacity').value)); });

async function pixelQuery(e) {
  if (!state.job || state.job.state !== 'done') return;
  try {
    const p = await api(`/api/jobs/${state.job.id}/pixel?lat=${e.latlng.lat}&lng=${e.latlng.lng}`);
    if (!p.inside) { $('pixel').textContent = 'outside the scene'; return; }
    const probs = Object.entries(p.probabilities).sort((a, b) => b[1] - a[1])
      .map(([n, v]) => `${n} ${(100 * v).toFixed(1)}%`).join(', ');
    $('pixel').textContent = `row ${p.row}, col ${p.col}: ${p.name} — ${probs}`;
    const popup = el('div', '', 'pixel-popup');
    popup.append(el('b', p.name), el('br'), probs);      // text nodes: names are never markup
    L.popup().setLatLng(e.latlng).setContent(popup).openOn(state.map);
  } catch (err) { showError(err); }
}

// ------------------------------------------------------------------ start
async function start() {
  if (typeof L === 'undefined') { showError('Leaflet is missing: run tools/install.sh (it installs Leaflet from npm)'); return; }
  const info = await api('/api/info');
  if (info.classes && !$('classes').value) $('classes').value = info.classes;
  state.basemap = info.basemap || null;
  $('basemap-note').textContent = state.basemap
    ? `basemap: tiles from ${basemapHost()} (--basemap), fetched by this browser from the internet`
    : 'no basemap: nothing on this page comes from the internet (start the server with --basemap URL-template for one)';
  for (const [k, values] of Object.entries(info.choices))
    for (const v of values) $(k).add(new Option(v, v));
  for (const [name, text] of Object.entries(info.presets)) $('preset').add(new Option(name, text));
  if (info.data_dir) {
    $('pick-box').hidden = false;
    for (const f of (await api('/api/files')).files) $('pick').add(new Option(f, f));
  }
  makeMap(false);
  state.map.setView([0, 0], 1);
  const jid = new URLSearchParams(location.search).get('job');
  if (jid) {
    try {
      const job = await api(`/api/jobs/${jid}`);
      $('classes').value = job.classes;
      if (job.bands) $('bands').value = job.bands.join(',');
      $('stretch').value = job.percentiles.join(',');
      showScene(job.scene);
      follow(job);
    } catch (err) { showError(err); }
  }
  document.body.dataset.ready = '1';
}
start().catch(showError);
