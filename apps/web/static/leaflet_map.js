// The planner's map: Leaflet (served by the app itself, never a CDN) in a Panel ReactiveESM.
//
// Layers arrive from Python as GeoJSON text; clicks, drags and removals go back with
// model.send_msg. Every text from the data (names, ids) is put in the page with
// textContent, never parsed as HTML, so a facility named "<img onerror=...>" is just text.
import * as L from "leaflet"

const PANES = {
  lcShares: 300, lcAreas: 360, lcCandAreas: 370, lcGaps: 380, lcStreets: 390, lcBoundaries: 395,
  lcDemand: 410, lcParking: 420, lcFacilities: 620, lcLabels: 630, lcCandidates: 640,
}
const TILES = {
  osm: {
    url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    options: {maxZoom: 19, attribution: "© OpenStreetMap contributors"},
  },
  amap: {
    url: "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
    options: {maxZoom: 18, subdomains: "1234", attribution: "© 高德地图 AutoNavi (GCJ-02)"},
  },
}

function parse(text, fallback) {
  if (!text) { return fallback }
  try { return JSON.parse(text) } catch (e) { console.error("lifecircle: bad layer JSON", e); return fallback }
}

// An array sent as JSON, or packed at city scale: "b64u8:..." (bytes), "b64u32:..." (uint32) or "b64u16:..."
// (uint16, 65535 for null).
function parseArray(text) {
  if (text && text.startsWith("b64")) {
    const cut = text.indexOf(":")
    const raw = atob(text.slice(cut + 1))
    const bytes = new Uint8Array(raw.length)
    for (let i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i) }
    if (text.slice(0, cut) === "b64u8") { return bytes }
    if (text.slice(0, cut) === "b64u32") { return new Uint32Array(bytes.buffer, 0, bytes.length >> 2) }
    const ints = new Uint16Array(bytes.buffer, 0, bytes.length >> 1)
    return Array.from(ints, (v) => (v === 65535 ? null : v))
  }
  return parse(text, [])
}

// The complete view's missing kinds per resident: a JSON list, or at city scale the distinct texts
// and each resident's index into them (layers/maplayers.demand_missing).
function parseMissing(text) {
  const data = parse(text, [])
  if (data && data.texts) {
    const index = parseArray(data.index)
    return Array.from(index, (k) => data.texts[k])
  }
  return data
}

// City scale: polygons packed by layers/maplayers.packed_polygons (integer deltas), back to GeoJSON.
function unpackPolygons(data) {
  const features = []
  let k = 0
  let x = 0
  let y = 0
  for (let f = 0; f < data.rings.length; f++) {
    const polys = []
    for (const counts of data.rings[f]) {
      const poly = []
      for (const n of counts) {
        const ring = new Array(n)
        for (let j = 0; j < n; j++) {
          x += data.d[k++]
          y += data.d[k++]
          ring[j] = [x * data.q, y * data.q]
        }
        poly.push(ring)
      }
      polys.push(poly)
    }
    features.push({type: "Feature", properties: data.props[f] || {},
                   geometry: {type: "MultiPolygon", coordinates: polys}})
  }
  return {type: "FeatureCollection", features}
}

function el(tag, cls, text) {
  const node = document.createElement(tag)
  if (cls) { node.className = cls }
  if (text !== undefined && text !== null) { node.textContent = String(text) }
  return node
}

// A popup / tooltip body: a title and key-value rows, all as text nodes.
function infoBox(title, rows, subtitle) {
  const box = el("div", "lc-pop")
  box.appendChild(el("div", "lc-pop-title", title))
  if (subtitle) { box.appendChild(el("div", "lc-pop-sub", subtitle)) }
  for (const [key, value] of rows || []) {
    const row = el("div", "lc-pop-row")
    row.appendChild(el("span", "lc-pop-key", key))
    row.appendChild(el("span", "lc-pop-val", value))
    box.appendChild(row)
  }
  return box
}

function minTier(features) {
  let m = Infinity
  for (const f of features) { m = Math.min(m, f.properties.tier) }
  return m
}

function fmt(n) {
  if (n === null || n === undefined || !isFinite(n)) { return "–" }
  // thousands separated by commas, as toLocaleString("en-US") (several times slower, per call)
  const text = String(Math.round(n))
  return text.replace(/\B(?=(\d{3})+(?!\d))/g, ",")
}

function render({model, el: root}) {
  const holder = el("div", "lc-map")
  // Size from inline styles: the style sheets may arrive after the map is made.
  holder.style.position = "absolute"
  holder.style.inset = "0"
  // The map is its own layout root: Leaflet reads sizes while it zooms (a new tile level's
  // offsetWidth), and without containment each read lays out the whole page of widgets.
  holder.style.contain = "strict"
  root.style.position = "relative"
  root.style.width = "100%"
  root.style.height = "100%"
  root.appendChild(holder)
  // Markers (facilities, clusters, 社区 labels, candidates) hide while a zoom animates and come back
  // at its end, instead of each running its own CSS transition: a city view's few hundred animated
  // markers made every zoom frame a style recalculation of all of them (50-110 ms in Chromium)
  const map = L.map(holder, {zoomControl: true, preferCanvas: false, zoomSnap: 0.25, minZoom: 10,
                             markerZoomAnimation: false})
  const b0 = model.bounds || []
  if (b0.length === 4) { map.setView([(b0[1] + b0[3]) / 2, (b0[0] + b0[2]) / 2], 15) } else { map.setView([22.55, 114.06], 13) }
  map.attributionControl.setPrefix("Leaflet")
  L.control.scale({imperial: false, position: "bottomleft"}).addTo(map)
  for (const [name, z] of Object.entries(PANES)) { map.createPane(name).style.zIndex = z }
  const canvas = L.canvas({padding: 0.3, pane: "lcStreets"})
  const demandCanvas = L.canvas({padding: 0.3, pane: "lcDemand"})

  const groups = {}
  for (const name of ["streets", "boundaries", "shares", "facilities", "areas", "candidates",
                      "demand", "gaps", "parking"]) {
    groups[name] = L.layerGroup()
  }
  let tileLayer = null
  let demandLayers = []
  const state = {labels: {}, style: {}, fitted: false}

  // ------------------------------------------------------------ helpers
  const T = (key) => (state.labels[key] !== undefined ? state.labels[key] : key)
  const kindInfo = (key) => (state.style.kinds || {})[key] || {label: key, color: "#555"}

  function geojson(text) {
    const data = parse(text, {type: "FeatureCollection", features: []})
    return data && data.packed === "polygons" ? unpackPolygons(data) : data
  }
  const gapCanvas = L.canvas({padding: 0.3, pane: "lcGaps"})
  const kindOn = (kind) => model.kinds_on == null || model.kinds_on.includes(kind)
  const tierOn = (tier) => model.tiers_on == null || model.tiers_on.some((t) => Math.abs(t - tier) < 1e-6)

  function refreshVisible() {
    const visible = new Set(model.layers_on || [])
    visible.add("streets")
    for (const [name, group] of Object.entries(groups)) {
      const on = visible.has(name)
      if (on && !map.hasLayer(group)) { group.addTo(map) }
      if (!on && map.hasLayer(group)) { map.removeLayer(group) }
    }
    // a canvas renderer outlives its layers: take the demand's away with them
    if (!visible.has("demand") && map.hasLayer(demandCanvas)) { map.removeLayer(demandCanvas) }
    legend.update()
  }

  // -------------------------------------------------------------- layers
  // City scale: tile layers the app serves itself (apps/web/tiles.py), drawn by zoom.
  // Leaflet 1.9.4's GridLayer._updateLevels, less its read of a new level's offsetWidth (kept there
  // for a CSS transition): that read forces a style and layout pass of the page in the middle of
  // every zoom, once per tile layer, hundreds of ms on a page of widgets.
  const CityTiles = L.TileLayer.extend({
    // a city's map opens at a placeholder view until it is fitted to the study area (once the holder
    // has a size): tiles of that view were requested first, 60 of them at zoom 15, and held the
    // browser's six connections while the fitted view's tiles waited behind them
    _update(center) {
      if (!state.fitted && (model.bounds || []).length === 4) { return undefined }
      return L.TileLayer.prototype._update.call(this, center)
    },
    _updateLevels() {
      const zoom = this._tileZoom
      const maxZoom = this.options.maxZoom
      if (zoom === undefined) { return undefined }
      for (let z in this._levels) {
        z = Number(z)
        if (this._levels[z].el.children.length || z === zoom) {
          this._levels[z].el.style.zIndex = maxZoom - Math.abs(zoom - z)
          this._onUpdateLevel(z)
        } else {
          L.DomUtil.remove(this._levels[z].el)
          this._removeTilesAtZoom(z)
          this._onRemoveLevel(z)
          delete this._levels[z]
        }
      }
      let level = this._levels[zoom]
      const m = this._map
      if (!level) {
        level = this._levels[zoom] = {}
        level.el = L.DomUtil.create("div", "leaflet-tile-container leaflet-zoom-animated", this._container)
        level.el.style.zIndex = maxZoom
        level.origin = m.project(m.unproject(m.getPixelOrigin()), zoom).round()
        level.zoom = zoom
        this._setZoomTransform(level, m.getCenter(), m.getZoom())
        this._onCreateLevel(level)
      }
      this._level = level
      return level
    },
  })
  const cityTiles = (url, options) => new CityTiles(url, options)
  let tileUrls = {}
  let areaTiles = null
  function tierQuery() {
    return model.tiers_on == null ? "" : model.tiers_on.map((t) => String(Number(t))).join(",")
  }
  function areaUrl() {
    const u = tileUrls.areas
    return u + (u.includes("?") ? "&" : "?") + "tiers=" + encodeURIComponent(tierQuery())
  }
  function drawTiles() {
    tileUrls = parse(model.tile_urls, {})
    drawStreets(); drawAreas()
  }

  function drawStreets() {
    groups.streets.clearLayers()
    if (tileUrls.streets) {
      cityTiles(tileUrls.streets, {pane: "lcStreets", maxZoom: 20, maxNativeZoom: 19, keepBuffer: 1,
                                     updateWhenZooming: false, className: "lc-tiles-streets"}).addTo(groups.streets)
      return
    }
    L.geoJSON(geojson(model.streets), {
      renderer: canvas, interactive: false,
      style: (f) => (f.properties.major
        ? {color: state.style.street_color || "#9aa3ad", weight: 2.2, opacity: 0.9}
        : {color: state.style.street_color || "#9aa3ad", weight: 1, opacity: 0.75}),
    }).addTo(groups.streets)
  }

  // City scale: a 社区 label carries the zoom from which it shows without overlapping another (lz)
  // and its place (lp); it is a marker, placed by a transform: a permanent tooltip measures itself
  // on every zoom, a forced layout per label.
  let unitLabels = []
  function thinLabels() {
    const z = map.getZoom()
    for (const [layer, lz] of unitLabels) {
      if (layer instanceof L.Marker) {
        const on = groups.boundaries.hasLayer(layer)
        if (z >= lz && !on) { groups.boundaries.addLayer(layer) }
        if (z < lz && on) { groups.boundaries.removeLayer(layer) }
        continue
      }
      const tip = layer.getTooltip()
      if (!tip) { continue }
      if (z >= lz && !map.hasLayer(tip) && map.hasLayer(layer)) { layer.openTooltip() }
      if (z < lz && map.hasLayer(tip)) { layer.closeTooltip() }
    }
  }

  function drawBoundaries() {
    groups.boundaries.clearLayers()
    unitLabels = []
    L.geoJSON(geojson(model.boundaries), {
      pane: "lcBoundaries", interactive: false,
      style: (f) => (f.properties.level === "street"
        ? {color: state.style.street_boundary_color, weight: 2.5, dashArray: "8 5", fill: false, opacity: 0.9}
        : {color: state.style.community_boundary_color, weight: 1.3, dashArray: "3 4", fill: false, opacity: 0.8}),
      onEachFeature: (f, layer) => {
        const lp = f.properties.lp
        if (f.properties.level === "community" && f.properties.name && f.properties.lz !== undefined && lp) {
          const icon = L.divIcon({className: "lc-unit-icon", html: el("span", "lc-unit-label", f.properties.name),
                                  iconSize: null})
          unitLabels.push([L.marker([lp[1], lp[0]], {pane: "lcLabels", interactive: false, keyboard: false, icon}),
                           f.properties.lz])
        } else if (f.properties.level === "community" && f.properties.name) {
          layer.bindTooltip(el("span", null, f.properties.name),
                            {permanent: true, direction: "center", className: "lc-unit-label", pane: "lcLabels"})
          if (f.properties.lz !== undefined) { unitLabels.push([layer, f.properties.lz]) }
        }
      },
    }).addTo(groups.boundaries)
    thinLabels()
  }

  function drawShares() {
    groups.shares.clearLayers()
    L.geoJSON(geojson(model.shares), {
      pane: "lcShares",
      style: (f) => ({color: "#ffffff", weight: 1, fillColor: f.properties.color, fillOpacity: 0.6}),
      onEachFeature: (f, layer) => {
        const p = f.properties
        layer.bindTooltip(() => infoBox(p.name, p.rows || []), {sticky: true})
      },
    }).addTo(groups.shares)
  }

  // City scale: below clusters.below the facilities are drawn as the clusters of the zoom
  // (computed by the server, apps/web/tiles.py); a cluster of one is the facility itself.
  let clusters = {}
  let facilityKey = ""
  const clustered = () => clusters.levels && map.getZoom() < clusters.below
  function clusterLevel() {
    const zs = Object.keys(clusters.levels).map(Number)
    const z = Math.max(Math.min(...zs), Math.min(Math.max(...zs), Math.floor(map.getZoom())))
    return clusters.levels[String(z)] || []
  }
  // a city's cluster and facility markers are made once and drawn again from here on each zoom
  // (1,000 features parsed and 100 markers made per zoom step held the page for 100-200 ms)
  const memo = {clusters: new Map(), facilities: new Map(), features: null}
  function memoFor() {
    if (memo.clusterText !== model.facility_clusters || memo.facilityText !== model.facilities ||
        memo.styleText !== model.style || memo.labelText !== model.labels) {
      memo.clusterText = model.facility_clusters
      memo.facilityText = model.facilities
      memo.styleText = model.style
      memo.labelText = model.labels
      memo.clusters = new Map()
      memo.facilities = new Map()
      memo.features = null
    }
    return memo
  }
  function drawClusters(keep, wanted) {
    const m = memoFor()
    const key = `${Math.floor(map.getZoom())}|${JSON.stringify(model.kinds_on)}`
    let made = m.clusters.get(key)
    if (!made) {
      made = {markers: [], single: []}
      for (const [lng, lat, counts, ids] of clusterLevel()) {
        let n = 0
        let top = null
        for (const [k, c] of Object.entries(counts)) {
          if (!kindOn(k)) { continue }
          n += c
          if (top === null || c > counts[top]) { top = k }
        }
        if (n === 0) { continue }
        if (n === 1) { made.single.push(...ids); continue }
        const size = Math.round(22 + 7 * Math.log10(n))
        const label = fmt(n)
        const badge = el("div", "lc-cluster", label)
        badge.style.width = badge.style.height = badge.style.lineHeight = `${size}px`
        badge.style.borderColor = kindInfo(top).color
        const marker = L.marker([lat, lng], {
          pane: "lcFacilities", keyboard: false, title: label,
          icon: L.divIcon({className: "lc-cluster-icon", html: badge, iconSize: [size, size], iconAnchor: [size / 2, size / 2]}),
        })
        marker.on("click", () => map.setView([lat, lng], Math.min(clusters.below, Math.floor(map.getZoom()) + 2)))
        made.markers.push(marker)
      }
      m.clusters.set(key, made)
    }
    for (const id of made.single) { keep.add(id) }
    for (const marker of made.markers) { wanted.add(marker) }
  }

  // A city zoomed in past the clusters draws the facilities near the view only (half a view around
  // it), drawn again when the view leaves them: a marker off screen still costs its transform and
  // its style on every zoom.
  let facilityView = null
  const facilityWanted = () => (clustered() ? `c${Math.floor(map.getZoom())}` : clusters.levels ? "view" : "all")
  // Only the markers that change leave or join the map: a marker kept across a zoom step or a pan
  // keeps its DOM node (removing and re-adding every one cost a style recalculation of all of them)
  function drawFacilities() {
    clusters = parse(model.facility_clusters, {})
    if (clusters.levels && !state.fitted) { groups.facilities.clearLayers(); facilityKey = ""; return }  // a city: drawn once the view is fitted
    const wanted = new Set()
    const single = clustered() ? new Set() : null
    if (single) { drawClusters(single, wanted) }
    facilityKey = facilityWanted()
    facilityView = facilityKey === "view" ? map.getBounds().pad(0.5) : null
    const near = facilityView
    const closed = new Set(parse(model.closed, []))
    const m = memoFor()
    if (!m.features) { m.features = geojson(model.facilities).features || [] }
    for (const f of m.features) {
      const p = f.properties
      if (!kindOn(p.kind) || (single !== null && !single.has(p.id))) { continue }
      const [lng, lat] = f.geometry.coordinates
      if (near !== null && !near.contains(L.latLng(lat, lng))) { continue }
      const isClosed = closed.has(p.id)
      const key = `${p.id}|${isClosed}`
      let marker = m.facilities.get(key)
      if (!marker) {
        marker = facilityMarker(f, L.latLng(lat, lng), isClosed)
        m.facilities.set(key, marker)
      }
      wanted.add(marker)
    }
    for (const layer of groups.facilities.getLayers()) { if (!wanted.has(layer)) { groups.facilities.removeLayer(layer) } }
    for (const layer of wanted) { if (!groups.facilities.hasLayer(layer)) { groups.facilities.addLayer(layer) } }
  }

  function facilityMarker(f, latlng, isClosed) {
    const p = f.properties
    const info = kindInfo(p.kind)
    const badge = el("div", isClosed ? "lc-fac lc-fac-closed" : "lc-fac", info.glyph || "")
    badge.style.background = isClosed ? "#9e9e9e" : info.color
    const layer = L.marker(latlng, {
      pane: "lcFacilities", keyboard: false, title: p.name || p.id || "",
      icon: L.divIcon({className: "lc-fac-icon", html: badge, iconSize: [20, 20], iconAnchor: [10, 10]}),
    })
    const rows = [[T("kind"), kindInfo(p.kind).label], [T("id"), p.id]]
    if (isClosed) { rows.push(["", T("closed")]) }
    const body = () => infoBox(p.name || p.id, rows)
    layer.bindTooltip(body, {direction: "top", offset: [0, -10]})
    layer.bindPopup(() => {
      const box = body()
      const button = el("button", "lc-btn-remove lc-btn-close", isClosed ? T("reopen") : T("close"))
      button.type = "button"
      L.DomEvent.on(button, "click", (ev) => {
        L.DomEvent.stop(ev)
        map.closePopup()
        model.send_msg({type: isClosed ? "reopen" : "close", id: p.id})
      })
      box.appendChild(button)
      return box
    })
    return layer
  }

  function drawAreas() {
    groups.areas.clearLayers()
    areaTiles = null
    if (tileUrls.areas) {
      areaTiles = cityTiles(areaUrl(), {pane: "lcAreas", maxZoom: 20, maxNativeZoom: 19, keepBuffer: 1,
                                          updateWhenZooming: false, className: "lc-tiles-areas"})
      areaTiles.addTo(groups.areas)
      return
    }
    const tiers = state.style.tier_opacity || {}
    const features = geojson(model.areas).features.filter((f) => tierOn(f.properties.tier))
    features.sort((a, b) => b.properties.tier - a.properties.tier)
    L.geoJSON({type: "FeatureCollection", features}, {
      pane: "lcAreas", interactive: false,
      style: (f) => ({
        color: kindInfo(f.properties.kind).color, weight: 1, opacity: 0.6,
        fillColor: kindInfo(f.properties.kind).color, fillOpacity: tiers[String(f.properties.tier)] || 0.12,
      }),
    }).addTo(groups.areas)
  }

  function demandInfo(p) {
    const cls = (state.classes || [])[p.i]
    const d = (state.distances || [])[p.i]
    if (state.missing && state.missing.length) {
      const miss = state.missing[p.i]
      return infoBox(p.name || p.id, [
        [T("population"), fmt(p.w)], [T("missing"), miss ? miss : T("complete")],
      ], (state.style.class_labels || [])[cls])
    }
    return infoBox(p.name || p.id, [
      [T("population"), fmt(p.w)],
      [T("distance"), d === null || d === undefined ? (state.style.class_labels || [])[cls] || "–" : `${fmt(d)} m`],
    ], (state.style.class_labels || [])[cls])
  }

  // A pixel (little-endian RGBA, straight alpha) painted over by src (its alpha a, 0-1).
  function blend(dst, src, a) {
    const da = (dst >>> 24) / 255
    const oa = a + da * (1 - a)
    const k = da * (1 - a)
    let out = Math.round(oa * 255) << 24
    for (let shift = 0; shift < 24; shift += 8) {
      out |= Math.round((((src >>> shift) & 255) * a + ((dst >>> shift) & 255) * k) / oa) << shift
    }
    return out >>> 0
  }

  // City scale: the residents as one compact payload drawn on a canvas, only what is in view,
  // redrawn when the view settles; hovering finds the nearest point through a grid of the drawn ones.
  const PointCanvas = L.Layer.extend({
    initialize(data) {
      if (typeof data.x === "string") { data.x = parseArray(data.x); data.y = parseArray(data.y) }
      this._data = data
      const n = data.n
      this._px = new Float64Array(n)
      this._py = new Float64Array(n)
      // Web Mercator pixels at zoom 0 (EPSG:3857, as Leaflet's CRS), written out: no object per point
      const R = L.CRS.EPSG3857.latLngToPoint(L.latLng(0, 0), 0)
      const k = 256 / 360
      const maxLat = 85.0511287798
      for (let i = 0; i < n; i++) {
        const lat = Math.max(-maxLat, Math.min(maxLat, data.y0 + data.q * data.y[i]))
        const sin = Math.sin(lat * Math.PI / 180)
        this._px[i] = R.x + (data.x0 + data.q * data.x[i]) * k
        this._py[i] = R.y - 128 * Math.log((1 + sin) / (1 - sin)) / (2 * Math.PI)
      }
      this._order = null
    },
    onAdd(m) {
      this._canvas = L.DomUtil.create("canvas", "lc-points leaflet-zoom-hide")
      this._canvas.dataset.points = String(this._data.n)
      m.getPane("lcDemand").appendChild(this._canvas)
      m.on("moveend zoomend resize viewreset", this.redraw, this)
      m.on("mousemove", this._hover, this)
      m.on("mouseout zoomstart movestart", this._unhover, this)
      this.redraw()
    },
    onRemove(m) {
      m.off("moveend zoomend resize viewreset", this.redraw, this)
      m.off("mousemove", this._hover, this)
      m.off("mouseout zoomstart movestart", this._unhover, this)
      this._unhover()
      this._canvas.remove()
    },
    recolor() { this._order = null; this.redraw() },
    _sorted() {
      if (this._order) { return this._order }
      const n = this._data.n
      const cls = state.classes || []
      // counting sort by class (a few classes): one pass, no comparator
      let top = 0
      for (let i = 0; i < n; i++) { top = Math.max(top, cls[i] || 0) }
      const start = new Int32Array(top + 2)
      for (let i = 0; i < n; i++) { start[(cls[i] || 0) + 1]++ }
      for (let c = 1; c < start.length; c++) { start[c] += start[c - 1] }
      const order = new Int32Array(n)
      for (let i = 0; i < n; i++) { order[start[cls[i] || 0]++] = i }
      this._order = order
      return order
    },
    redraw() {
      const m = this._map
      if (!m) { return }
      const started = performance.now()
      const size = m.getSize()
      const pad = 0.15
      const topLeft = m.containerPointToLayerPoint([-size.x * pad, -size.y * pad]).round()
      const w = Math.round(size.x * (1 + 2 * pad))
      const h = Math.round(size.y * (1 + 2 * pad))
      const canvas = this._canvas
      const ratio = window.devicePixelRatio || 1
      const W = Math.round(w * ratio)
      const H = Math.round(h * ratio)
      if (canvas.width !== W || canvas.height !== H) {
        canvas.width = W
        canvas.height = H
        canvas.style.width = `${w}px`
        canvas.style.height = `${h}px`
      }
      L.DomUtil.setPosition(canvas, topLeft)
      const z = m.getZoom()
      const scale = Math.pow(2, z)
      const origin = m.getPixelOrigin()
      const ox = origin.x + topLeft.x
      const oy = origin.y + topLeft.y
      const r = z >= 15 ? 3.2 : z >= 13.5 ? 2.2 : 1.3
      const cls = state.classes || []
      const order = this._sorted()
      // the points written as pixels (an ImageData put once): 100,000 paths of a 2D context cost the
      // browser a few hundred ms to rasterise when the frame is finalised, the pixels a few ms
      const ctx = canvas.getContext("2d")
      if (!this._image || this._image.width !== W || this._image.height !== H) {
        this._image = ctx.createImageData(W, H)
        this._pixels = new Uint32Array(this._image.data.buffer)
      }
      const buf = this._pixels
      buf.fill(0)
      const stamps = this._stamps(r * ratio)
      const R = stamps.reach
      let drawn = 0
      const perClass = new Map()  // drawn points per distance class (data-classes: what the tests read)
      let current = -2
      let stamp = null
      let classCount = 0
      for (let k = 0; k < order.length; k++) {
        const i = order[k]
        const x = this._px[i] * scale - ox
        const y = this._py[i] * scale - oy
        if (x < -r || y < -r || x > w + r || y > h + r) { continue }
        const c = cls[i] === undefined ? -1 : cls[i]
        if (c !== current) {
          if (current !== -2) { perClass.set(current, (perClass.get(current) || 0) + classCount) }
          current = c
          classCount = 0
          stamp = stamps.of(c)
        }
        const cx = Math.round(x * ratio)
        const cy = Math.round(y * ratio)
        drawn++
        classCount++
        const inside = cx >= R && cy >= R && cx < W - R && cy < H - R
        const base = cy * W + cx
        const {off, val, a, n} = stamp
        for (let s = 0; s < n; s++) {
          if (!inside) {
            const px = cx + stamp.dx[s]
            const py = cy + stamp.dy[s]
            if (px < 0 || py < 0 || px >= W || py >= H) { continue }
          }
          const at = base + off[s]
          if (a[s] >= 0.94 || buf[at] === 0) { buf[at] = val[s] } else { buf[at] = blend(buf[at], val[s], a[s]) }
        }
      }
      if (current !== -2) { perClass.set(current, (perClass.get(current) || 0) + classCount) }
      ctx.putImageData(this._image, 0, 0)
      canvas.dataset.drawn = String(drawn)
      canvas.dataset.ms = (performance.now() - started).toFixed(1)  // this draw's main-thread time (the bench reads it)
      canvas.dataset.classes = [...perClass.entries()].sort((a, b) => a[0] - b[0]).map((e) => e.join(":")).join(",")
      // the hover grid is built on the first hover after a redraw, not on every redraw
      this._grid = null
      this._view = z >= 13 ? {ox, oy, scale, w, h, r} : null
    },
    // Each class's point as pixels: offsets, colours and coverage of a disc of radius rr (device
    // pixels), white-edged from 3 px as the path drawing was; at the city view a small square.
    _stamps(rr) {
      const W = this._canvas.width
      const key = `${rr}:${W}:${(state.style.class_colors || []).join(",")}`
      if (this._stampKey === key) { return this._stampSet }
      const colors = state.style.class_colors || []
      const ctx = this._canvas.getContext("2d")
      const rgbOf = (css) => {
        ctx.fillStyle = "#888888"
        ctx.fillStyle = css || "#888888"
        const v = String(ctx.fillStyle)
        if (v[0] === "#") { return [1, 3, 5].map((j) => parseInt(v.slice(j, j + 2), 16)) }
        const nums = v.match(/[\d.]+/g) || ["136", "136", "136"]
        return nums.slice(0, 3).map(Number)
      }
      const edge = rr > 3
      const shape = []  // [dx, dy, fill coverage, edge coverage]
      const reach = Math.ceil(rr + 0.5)
      if (rr <= 2) {
        const side = Math.max(1, Math.round(2 * rr))
        const lo = -Math.floor(side / 2)
        for (let dy = lo; dy < lo + side; dy++) { for (let dx = lo; dx < lo + side; dx++) { shape.push([dx, dy, 1, 0]) } }
      } else {
        const sub = 4
        for (let dy = -reach; dy <= reach; dy++) {
          for (let dx = -reach; dx <= reach; dx++) {
            let fill = 0
            let ring = 0
            for (let sy = 0; sy < sub; sy++) {
              for (let sx = 0; sx < sub; sx++) {
                const d = Math.hypot(dx - 0.5 + (sx + 0.5) / sub, dy - 0.5 + (sy + 0.5) / sub)
                if (edge && d <= rr + 0.3 && d > rr - 0.3) { ring++ } else if (d <= (edge ? rr - 0.3 : rr)) { fill++ }
              }
            }
            if (fill + ring > 0) { shape.push([dx, dy, fill / (sub * sub), ring / (sub * sub)]) }
          }
        }
      }
      const byClass = new Map()
      const of = (c) => {
        let st = byClass.get(c)
        if (st) { return st }
        const [r0, g0, b0] = rgbOf(colors[c])
        const n = shape.length
        st = {n, off: new Int32Array(n), dx: new Int32Array(n), dy: new Int32Array(n), val: new Uint32Array(n),
              a: new Float32Array(n)}
        for (let s = 0; s < n; s++) {
          const [dx, dy, fill, ring] = shape[s]
          const cover = fill + ring
          const mix = (v) => Math.round((v * fill + 255 * ring) / cover)
          st.off[s] = dy * W + dx
          st.dx[s] = dx
          st.dy[s] = dy
          st.a[s] = 0.95 * cover
          st.val[s] = ((Math.round(st.a[s] * 255) << 24) | (mix(b0) << 16) | (mix(g0) << 8) | mix(r0)) >>> 0
        }
        byClass.set(c, st)
        return st
      }
      this._stampKey = key
      this._stampSet = {reach, of}
      return this._stampSet
    },
    _buildGrid() {
      const v = this._view
      const cell = 16
      const grid = new Map()
      const order = this._sorted()
      for (let k = 0; k < order.length; k++) {
        const i = order[k]
        const x = this._px[i] * v.scale - v.ox
        const y = this._py[i] * v.scale - v.oy
        if (x < -v.r || y < -v.r || x > v.w + v.r || y > v.h + v.r) { continue }
        const key = Math.floor(x / cell) * 65536 + Math.floor(y / cell)
        const list = grid.get(key)
        if (list) { list.push(i) } else { grid.set(key, [i]) }
      }
      return {grid, cell, ox: v.ox, oy: v.oy, scale: v.scale}
    },
    _hover(ev) {
      if (!this._view) { return }
      if (!this._grid) { this._grid = this._buildGrid() }
      const g = this._grid
      const lp = this._map.latLngToLayerPoint(ev.latlng)
      const tl = L.DomUtil.getPosition(this._canvas)
      const x = lp.x - tl.x
      const y = lp.y - tl.y
      let best = -1
      let bestD = 7 * 7
      const cx = Math.floor(x / g.cell)
      const cy = Math.floor(y / g.cell)
      for (let dx = -1; dx <= 1; dx++) {
        for (let dy = -1; dy <= 1; dy++) {
          for (const i of g.grid.get((cx + dx) * 65536 + cy + dy) || []) {
            const d = (this._px[i] * g.scale - g.ox - x) ** 2 + (this._py[i] * g.scale - g.oy - y) ** 2
            if (d < bestD) { bestD = d; best = i }
          }
        }
      }
      if (best < 0) { this._unhover(); return }
      const data = this._data
      const id = data.id ? data.id[best] : `${data.id_seq[0]}${data.id_seq[1] + best}`
      const p = {i: best, id, name: data.name ? data.name[best] : "", w: data.w[best]}
      if (!this._tip) { this._tip = L.tooltip({direction: "top", offset: [0, -4]}) }
      this._tip.setLatLng(L.latLng(data.y0 + data.q * data.y[best], data.x0 + data.q * data.x[best]))
      this._tip.setContent(demandInfo(p))
      if (!this._map.hasLayer(this._tip)) { this._tip.addTo(this._map) }
    },
    _unhover() { if (this._tip && this._map && this._map.hasLayer(this._tip)) { this._map.removeLayer(this._tip) } },
  })
  let pointLayer = null
  // City scale: the residents' payload is fetched from the app's own route ({"url"}: the same for every
  // session, gzipped once by the server), kept here once fetched and parsed.
  const fetchedPoints = new Map()
  let pointsWanted = ""

  function fetchPoints(url) {
    pointsWanted = url
    fetch(url, {credentials: "same-origin"})
      .then((r) => { if (!r.ok) { throw new Error(`HTTP ${r.status}`) } return r.json() })
      .then((data) => { fetchedPoints.set(url, data); if (pointsWanted === url) { drawDemand() } })
      .catch((e) => {
        if (pointsWanted === url) { pointsWanted = "" }  // the next draw asks again
        console.error("lifecircle: residents' layer not loaded", e)
      })
  }

  function drawDemand() {
    groups.demand.clearLayers()
    demandLayers = []
    pointLayer = null
    let points = parse(model.demand_points, null)
    if (points && points.url) {
      if (!fetchedPoints.has(points.url)) {
        if (pointsWanted !== points.url) { fetchPoints(points.url) }
        return
      }
      pointsWanted = points.url
      points = fetchedPoints.get(points.url)
    } else {
      pointsWanted = ""
    }
    if (points && points.n) {
      pointLayer = new PointCanvas(points)
      colorDemand()  // the classes first: the layer draws once, when added
      pointLayer.addTo(groups.demand)
      return
    }
    const colors = state.style.class_colors || []
    L.geoJSON(geojson(model.demand), {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, {renderer: demandCanvas, radius: 3.2, weight: 0.6,
                                                            color: "#ffffff", fillOpacity: 0.95}),
      style: () => ({renderer: demandCanvas, weight: 0.6, color: "#ffffff", fillOpacity: 0.7}),
      onEachFeature: (f, layer) => {
        demandLayers[f.properties.i] = layer
        const p = f.properties
        layer.bindTooltip(() => demandInfo(p), {sticky: true})
      },
    }).addTo(groups.demand)
    colorDemand()
  }

  function colorDemand() {
    state.classes = parseArray(model.demand_classes)
    state.distances = parseArray(model.demand_distances)
    state.missing = parseMissing(model.demand_missing)
    const colors = state.style.class_colors || []
    if (pointLayer) { pointLayer.recolor(); return }
    for (let i = 0; i < demandLayers.length; i++) {
      const layer = demandLayers[i]
      if (!layer) { continue }
      layer.setStyle({fillColor: colors[state.classes[i]] || "#888"})
    }
  }

  let gapsDrawn = 0
  // City scale: the gaps as tiles of this session's gap set, the largest labelled with their figures
  function drawGapTiles(data) {
    if (data.tiles) {
      cityTiles(data.tiles, {pane: "lcGaps", maxZoom: 20, maxNativeZoom: 19, keepBuffer: 1,
                               updateWhenZooming: false, className: "lc-tiles-gaps"}).addTo(groups.gaps)
    }
    for (const [lng, lat, rank, unserved, share] of data.labels || []) {
      const tag = el("div", "lc-gap-rank", `#${rank}`)
      const marker = L.marker([lat, lng], {
        pane: "lcLabels", keyboard: false,
        icon: L.divIcon({className: "lc-gap-icon", html: tag, iconSize: [26, 18], iconAnchor: [13, 9]}),
      })
      marker.bindTooltip(() => infoBox(`${T("gap")} #${rank}`, [
        [T("unserved"), fmt(unserved)], [T("share_of_unserved"), `${(100 * share).toFixed(1)}%`],
      ]), {direction: "top"})
      marker.addTo(groups.gaps)
    }
  }

  function drawGaps() {
    groups.gaps.clearLayers()
    const tiled = (model.gaps || "").startsWith('{"tiles"')
    if (tiled) { drawGapTiles(parse(model.gaps, {})); return }
    const color = state.style.gap_color || "#6a1b9a"
    const packed = (model.gaps || "").startsWith('{"packed"')  // a city's gaps: on a canvas, not 100,000s of SVG vertices
    const data = geojson(model.gaps)
    const layer = L.geoJSON(null, {
      pane: "lcGaps", renderer: packed ? gapCanvas : undefined,
      style: () => ({color, weight: 1.5, dashArray: "4 3", fillColor: color, fillOpacity: 0.22}),
      onEachFeature: (f, layer) => {
        const p = f.properties
        layer.bindTooltip(() => infoBox(`${T("gap")} #${p.rank}`, [
          [T("unserved"), fmt(p.unserved_weight)], [T("share_of_unserved"), `${(100 * p.share_of_unserved).toFixed(1)}%`],
        ]), {sticky: true})
        if (p.rank <= 8) {
          const tag = el("div", "lc-gap-rank", `#${p.rank}`)
          L.marker([p.label_lat, p.label_lon], {
            pane: "lcLabels", interactive: false,
            icon: L.divIcon({className: "lc-gap-icon", html: tag, iconSize: [26, 18], iconAnchor: [13, 9]}),
          }).addTo(groups.gaps)
        }
      },
    }).addTo(groups.gaps)
    if (!packed) { layer.addData(data); return }
    // a city's gaps: added a few hundred thousand vertices at a time, so no frame waits for all of them
    const run = ++gapsDrawn
    const features = data.features
    let k = 0
    const step = () => {
      if (run !== gapsDrawn) { return }
      let vertices = 0
      const chunk = []
      while (k < features.length && vertices < 40000) {
        const f = features[k++]
        for (const poly of f.geometry.coordinates) { for (const ring of poly) { vertices += ring.length } }
        chunk.push(f)
      }
      layer.addData({type: "FeatureCollection", features: chunk})
      if (k < features.length) { requestAnimationFrame(step) }
    }
    step()
  }

  // Scenario comparison: residents who gain (green), lose (red) or both (orange); shown whenever set.
  const changes = L.layerGroup().addTo(map)
  function drawChanges() {
    changes.clearLayers()
    const colors = {gain: "#1b7f3b", loss: "#c62828", mixed: "#ef6c00"}
    L.geoJSON(geojson(model.changes), {
      pane: "lcLabels",
      pointToLayer: (f, ll) => L.circleMarker(ll, {
        radius: 6, weight: 2, color: "#212121", fillColor: colors[f.properties.change] || "#555", fillOpacity: 0.95,
        className: `lc-change lc-change-${f.properties.change}`, pane: "lcLabels",
      }),
      onEachFeature: (f, layer) => {
        const p = f.properties
        layer.bindTooltip(() => infoBox(`${p.id} · ${T("change_" + p.change)}`, [
          [T("population"), fmt(p.w)], [T("change_gained"), p.gained || "-"], [T("change_lost"), p.lost || "-"],
        ]), {sticky: true})
      },
    }).addTo(changes)
  }

  const candAreas = L.layerGroup().addTo(groups.candidates)
  const candMarkers = L.layerGroup().addTo(groups.candidates)

  function drawCandidateAreas() {
    candAreas.clearLayers()
    const color = state.style.candidate_color || "#c2185b"
    const areas = geojson(model.candidate_areas).features.filter((f) => tierOn(f.properties.tier))
    areas.sort((a, b) => b.properties.tier - a.properties.tier)
    L.geoJSON({type: "FeatureCollection", features: areas}, {
      pane: "lcCandAreas", interactive: false,
      style: (f) => ({color, weight: f.properties.tier === minTier(areas) ? 2 : 1.2, opacity: 0.9, fillColor: color,
                      fillOpacity: (state.style.tier_opacity || {})[String(f.properties.tier)] || 0.12}),
    }).addTo(candAreas)
  }

  function drawCandidates() {
    candMarkers.clearLayers()
    for (const f of geojson(model.candidates).features) {
      const p = f.properties
      const [lng, lat] = f.geometry.coordinates
      const pin = el("div", "lc-cand-pin")
      pin.appendChild(el("span", "lc-cand-id", p.id))
      const marker = L.marker([lat, lng], {
        pane: "lcCandidates", draggable: true, autoPan: true, keyboard: true, title: p.id,
        icon: L.divIcon({className: "lc-candidate", html: pin, iconSize: [34, 34], iconAnchor: [17, 17]}),
      })
      marker.on("dragend", () => {
        const ll = marker.getLatLng()
        model.send_msg({type: "move", id: p.id, lat: ll.lat, lng: ll.lng})
      })
      marker.bindPopup(() => candidatePopup(p))
      marker.addTo(candMarkers)
    }
  }

  function candidatePopup(p) {
    const box = infoBox(`${T("candidate")} ${p.id}`, (p.rows || []))
    const button = el("button", "lc-btn-remove", T("remove"))
    button.type = "button"
    L.DomEvent.on(button, "click", (ev) => {
      L.DomEvent.stop(ev)
      map.closePopup()
      model.send_msg({type: "remove", id: p.id})
    })
    box.appendChild(button)
    return box
  }

  function drawParking() {
    groups.parking.clearLayers()
    const data = geojson(model.parking)
    const colors = state.style.parking || {}
    L.geoJSON(data, {
      pane: "lcParking",
      style: (f) => ({color: colors.match || "#2e7d32", weight: 1 + Math.min(5, (f.properties.cars || 1) / 8), opacity: 0.8}),
      pointToLayer: (f, latlng) => L.circleMarker(latlng, {
        pane: "lcParking", radius: 6, weight: 1.5, color: "#fff",
        fillColor: f.properties.role === "lot" ? (colors.lot || "#1565c0") : (colors.residence || "#ef6c00"), fillOpacity: 1,
      }),
      onEachFeature: (f, layer) => {
        const p = f.properties
        layer.bindTooltip(() => infoBox(p.name || p.id || "", p.rows || []), {sticky: true})
      },
    }).addTo(groups.parking)
  }

  function setTiles() {
    if (tileLayer) { map.removeLayer(tileLayer); tileLayer = null }
    const spec = TILES[model.tiles]
    holder.classList.toggle("lc-no-tiles", !spec)
    if (spec) {
      tileLayer = L.tileLayer(spec.url, spec.options)
      tileLayer.addTo(map)
      tileLayer.bringToBack()
    }
  }

  function fit() {
    const b = model.bounds || []
    const size = map.getSize()
    if (b.length === 4 && size.x > 0 && size.y > 0) {
      // the first fit jumps (no zoom animation: an animated one loads the placeholder view's tiles);
      // fitted first: the view's events during fitBounds load the city's tiles (CityTiles._update)
      const first = !state.fitted
      state.fitted = true
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {padding: [12, 12], animate: !first})
    }
  }

  // -------------------------------------------------------------- legend
  const legend = L.control({position: "bottomright"})
  legend.onAdd = () => {
    const box = el("div", "lc-legend")
    L.DomEvent.disableClickPropagation(box)
    L.DomEvent.disableScrollPropagation(box)
    legend._box = box
    legend.update()
    return box
  }
  legend.update = () => {
    const box = legend._box
    if (!box) { return }
    box.replaceChildren()
    const visible = new Set(model.layers_on || [])
    const blocks = parse(model.legend, [])
    const head = el("div", "lc-legend-head", T("legend"))
    const toggle = el("button", "lc-legend-toggle", box.classList.contains("lc-collapsed") ? "+" : "–")
    toggle.type = "button"
    L.DomEvent.on(toggle, "click", () => { box.classList.toggle("lc-collapsed"); legend.update() })
    head.appendChild(toggle)
    box.appendChild(head)
    if (box.classList.contains("lc-collapsed")) { return }
    for (const block of blocks) {
      if (!visible.has(block.layer)) { continue }
      if (block.layer === "candidates" && !(model.candidates || "").includes("Feature\"")) { continue }
      const section = el("div", "lc-legend-block")
      if (block.title) { section.appendChild(el("div", "lc-legend-title", block.title)) }
      for (const item of block.items) {
        if (block.layer === "facilities" && item.kind && !kindOn(item.kind)) { continue }
        const row = el("div", "lc-legend-row")
        const key = el("span", `lc-key lc-key-${item.shape}`)
        if (item.shape === "glyph") {
          key.style.background = item.color
          key.textContent = item.glyph || ""
        } else if (item.shape === "line") {
          key.style.borderTopColor = item.color
        } else if (item.shape === "area") {
          key.style.background = item.color
          key.style.opacity = String(Math.min(1, (item.opacity || 0.3) * 2.2))
          key.style.borderColor = item.color
        } else {
          key.style.background = item.color
        }
        row.appendChild(key)
        row.appendChild(el("span", "lc-legend-label", item.label))
        section.appendChild(row)
      }
      box.appendChild(section)
    }
  }
  legend.addTo(map)
  // a laptop screen: the legend starts folded, and the page is told the window's size
  if (window.innerWidth < 1080 || window.innerHeight < 720) { legend._box.classList.add("lc-collapsed"); legend.update() }
  setTimeout(() => model.send_msg({type: "viewport", width: window.innerWidth, height: window.innerHeight}), 0)

  // ------------------------------------------------------------ add-mode hint
  const hint = L.control({position: "topright"})
  hint.onAdd = () => {
    const box = el("div", "lc-hint")
    hint._box = box
    return box
  }
  hint.addTo(map)
  function setMode() {
    const adding = model.mode === "add"
    holder.classList.toggle("lc-adding", adding)
    hint._box.textContent = adding ? T("add_hint") : ""
    hint._box.style.display = adding ? "block" : "none"
  }

  map.on("click", (ev) => {
    if (model.mode !== "add") { return }
    model.send_msg({type: "add", lat: ev.latlng.lat, lng: ev.latlng.lng})
  })

  // ------------------------------------------------------------ wiring
  function loadMeta() {
    state.labels = parse(model.labels, {})
    state.style = parse(model.style, {})
  }
  loadMeta()
  tileUrls = parse(model.tile_urls, {})
  drawStreets(); drawBoundaries(); drawShares(); drawFacilities(); drawAreas()
  drawDemand(); drawGaps(); drawCandidateAreas(); drawCandidates(); drawParking()
  setTiles(); setMode(); refreshVisible()
  holder.dataset.ready = "1"

  // Leaflet places labels by their measured size: once its style sheet has arrived, place them again.
  const probe = el("div", "leaflet-tooltip")
  probe.style.visibility = "hidden"
  holder.appendChild(probe)
  let tries = 0
  const whenStyled = () => {
    if (getComputedStyle(probe).position === "absolute" || tries++ > 300) {
      probe.remove()
      map.invalidateSize()
      // a district's permanent 社区 tooltips are measured: placed again; a city's labels are markers
      // placed by their anchor and its gaps tiles, nothing measured (redrawn, 100-150 ms of the first page)
      if (!unitLabels.length || unitLabels.some(([layer]) => !(layer instanceof L.Marker))) { drawBoundaries() }
      if (!(model.gaps || "").startsWith('{"tiles"')) { drawGaps() }
      legend.update()
      holder.dataset.styled = "1"
    } else {
      requestAnimationFrame(whenStyled)
    }
  }
  whenStyled()

  model.on("streets", drawStreets)
  model.on("boundaries", drawBoundaries)
  model.on("shares", drawShares)
  model.on("facilities", drawFacilities)
  model.on("areas", drawAreas)
  model.on(["demand", "demand_points"], drawDemand)
  model.on("tile_urls", drawTiles)
  model.on("facility_clusters", drawFacilities)
  // a city's facilities are drawn again in a task of their own after the view settles, not inside
  // Leaflet's zoomend with the tiles and the residents (one long task of 100-300 ms per zoom step)
  let facilitiesDue = false
  map.on("zoomend moveend", () => {
    thinLabels()
    if (!clusters.levels || facilitiesDue) { return }
    facilitiesDue = true
    setTimeout(() => {
      facilitiesDue = false
      if (facilityWanted() !== facilityKey || (facilityView !== null && !facilityView.contains(map.getBounds()))) {
        drawFacilities()
      }
    }, 0)
  })
  model.on(["demand_classes", "demand_distances", "demand_missing"], colorDemand)
  model.on("closed", drawFacilities)
  model.on("gaps", drawGaps)
  model.on("candidates", () => { drawCandidates(); legend.update() })
  model.on("candidate_areas", drawCandidateAreas)
  model.on("parking", drawParking)
  model.on("changes", drawChanges)
  model.on("layers_on", refreshVisible)
  model.on("kinds_on", () => { drawFacilities(); legend.update() })
  model.on("tiers_on", () => {
    if (areaTiles) { areaTiles.setUrl(areaUrl()) } else { drawAreas() }
    drawCandidateAreas()
  })
  model.on("tiles", setTiles)
  model.on("mode", setMode)
  model.on("bounds", fit)
  model.on(["labels", "style"], () => {
    loadMeta(); drawFacilities(); drawAreas(); drawDemand(); drawCandidateAreas(); drawCandidates(); drawGaps(); setMode()
    legend.update()
  })
  model.on("legend", () => legend.update())
  model.on("msg:custom", (msg) => {
    if (msg && msg.type === "fly" && isFinite(msg.lat) && isFinite(msg.lng)) {
      map.flyTo([msg.lat, msg.lng], Math.max(map.getZoom(), msg.zoom || 16), {duration: 0.6})
    }
  })
  // A click on a row with data-zoom="west,south,east,north" anywhere in the page (the ledger) zooms the map there.
  const onZoomClick = (ev) => {
    const path = ev.composedPath ? ev.composedPath() : []
    const row = path.find((n) => n && n.dataset && n.dataset.zoom)
    if (!row) { return }
    const b = row.dataset.zoom.split(",").map(Number)
    if (b.length === 4 && b.every(isFinite)) {
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {padding: [20, 20], maxZoom: 17})
      holder.dataset.zoomed = row.dataset.zoom
    }
  }
  document.addEventListener("click", onZoomClick, true)
  const resized = () => { map.invalidateSize(); if (!state.fitted) { fit() } }
  const observer = new ResizeObserver(() => resized())
  observer.observe(holder)
  model.on("after_layout", resized)
  model.on("resize", resized)
  model.on("remove", () => { observer.disconnect(); document.removeEventListener("click", onZoomClick, true); map.remove() })
  setTimeout(resized, 0)
}

export default {render}
