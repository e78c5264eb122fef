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
  return Math.round(n).toLocaleString("en-US")
}

function render({model, el: root}) {
  const holder = el("div", "lc-map")
  // Size from inline styles: the style sheets may arrive after the map is made.
  holder.style.position = "absolute"
  holder.style.inset = "0"
  root.style.position = "relative"
  root.style.width = "100%"
  root.style.height = "100%"
  root.appendChild(holder)
  const map = L.map(holder, {zoomControl: true, preferCanvas: false, zoomSnap: 0.25, minZoom: 10})
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

  function geojson(text) { return parse(text, {type: "FeatureCollection", features: []}) }
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
  function drawStreets() {
    groups.streets.clearLayers()
    L.geoJSON(geojson(model.streets), {
      renderer: canvas, interactive: false,
      style: (f) => (f.properties.major
        ? {color: state.style.street_color || "#9aa3ad", weight: 2.2, opacity: 0.9}
        : {color: state.style.street_color || "#9aa3ad", weight: 1, opacity: 0.75}),
    }).addTo(groups.streets)
  }

  function drawBoundaries() {
    groups.boundaries.clearLayers()
    L.geoJSON(geojson(model.boundaries), {
      pane: "lcBoundaries", interactive: false,
      style: (f) => (f.properties.level === "street"
        ? {color: state.style.street_boundary_color, weight: 2.5, dashArray: "8 5", fill: false, opacity: 0.9}
        : {color: state.style.community_boundary_color, weight: 1.3, dashArray: "3 4", fill: false, opacity: 0.8}),
      onEachFeature: (f, layer) => {
        if (f.properties.level === "community" && f.properties.name) {
          layer.bindTooltip(el("span", null, f.properties.name),
                            {permanent: true, direction: "center", className: "lc-unit-label", pane: "lcLabels"})
        }
      },
    }).addTo(groups.boundaries)
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

  function drawFacilities() {
    groups.facilities.clearLayers()
    const closed = new Set(parse(model.closed, []))
    L.geoJSON(geojson(model.facilities), {
      filter: (f) => kindOn(f.properties.kind),
      pointToLayer: (f, latlng) => {
        const info = kindInfo(f.properties.kind)
        const badge = el("div", closed.has(f.properties.id) ? "lc-fac lc-fac-closed" : "lc-fac", info.glyph || "")
        badge.style.background = closed.has(f.properties.id) ? "#9e9e9e" : info.color
        return L.marker(latlng, {
          pane: "lcFacilities", keyboard: false, title: f.properties.name || f.properties.id || "",
          icon: L.divIcon({className: "lc-fac-icon", html: badge, iconSize: [20, 20], iconAnchor: [10, 10]}),
        })
      },
      onEachFeature: (f, layer) => {
        const p = f.properties
        const isClosed = closed.has(p.id)
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
      },
    }).addTo(groups.facilities)
  }

  function drawAreas() {
    groups.areas.clearLayers()
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

  function drawDemand() {
    groups.demand.clearLayers()
    demandLayers = []
    const colors = state.style.class_colors || []
    L.geoJSON(geojson(model.demand), {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, {renderer: demandCanvas, radius: 3.2, weight: 0.6,
                                                            color: "#ffffff", fillOpacity: 0.95}),
      style: () => ({renderer: demandCanvas, weight: 0.6, color: "#ffffff", fillOpacity: 0.7}),
      onEachFeature: (f, layer) => {
        demandLayers[f.properties.i] = layer
        const p = f.properties
        layer.bindTooltip(() => {
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
        }, {sticky: true})
      },
    }).addTo(groups.demand)
    colorDemand()
  }

  function colorDemand() {
    state.classes = parse(model.demand_classes, [])
    state.distances = parse(model.demand_distances, [])
    state.missing = parse(model.demand_missing, [])
    const colors = state.style.class_colors || []
    for (let i = 0; i < demandLayers.length; i++) {
      const layer = demandLayers[i]
      if (!layer) { continue }
      layer.setStyle({fillColor: colors[state.classes[i]] || "#888"})
    }
  }

  function drawGaps() {
    groups.gaps.clearLayers()
    const color = state.style.gap_color || "#6a1b9a"
    L.geoJSON(geojson(model.gaps), {
      pane: "lcGaps",
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
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {padding: [12, 12]})
      state.fitted = true
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
      drawBoundaries(); drawGaps(); legend.update()
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
  model.on("demand", drawDemand)
  model.on(["demand_classes", "demand_distances", "demand_missing"], colorDemand)
  model.on("closed", drawFacilities)
  model.on("gaps", drawGaps)
  model.on("candidates", () => { drawCandidates(); legend.update() })
  model.on("candidate_areas", drawCandidateAreas)
  model.on("parking", drawParking)
  model.on("changes", drawChanges)
  model.on("layers_on", refreshVisible)
  model.on("kinds_on", () => { drawFacilities(); legend.update() })
  model.on("tiers_on", () => { drawAreas(); drawCandidateAreas() })
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
