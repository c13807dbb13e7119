"""How a county map is laid out in the browser: the drawing order of its layers, the layer
list with grouped layers, schools at one place spread apart on a click, and text that is safe
in the map's script (:func:`map_text`).

* **Panes**: areas (catchments, boundaries, districts) lie under lines (roads, bus routes,
  merger arrows), which lie under points (sites, villages, pick-ups), whatever the order in
  which the layers were added (Leaflet panes with fixed z-indices, :data:`PANES`).
* **Layer list**: Leaflet.Control.Layers.Tree (as folium's ``TreeLayerControl``) with every layer, and the
  layers of a group (the bus routes, one layer per township) under one collapsible node whose
  box toggles them all (:func:`group_layer`, :func:`add_layer_tree`).
* **Co-located schools**: drawn largest first (a small school is never hidden under a larger
  one) and spread apart on a click by OverlappingMarkerSpiderfier (:class:`Spiderfier`; the
  same library as folium's ``OverlappingMarkerSpiderfier``, which only takes folium markers,
  while ruralnet's sites are one GeoJSON layer of circle markers).

The plugins' scripts come from a CDN in an online map and are inlined by
:func:`ruralnet.outputs.maps.offline_html` from ``assets/`` (see ``assets/LICENSES.md``).
"""

from __future__ import annotations

import html
from typing import ClassVar

import folium
from branca.element import Element
from folium.elements import JSCSSMixin
from folium.map import CustomPane
from folium.template import Template

#: Characters escaped beyond HTML's own: folium puts tooltip and popup text inside
#: JavaScript template literals, where a backtick ends the string, ``${...}`` runs code and a
#: backslash starts an escape.
_TEMPLATE_LITERAL = {"`": "&#96;", "$": "&#36;", "\\": "&#92;"}


def map_text(value) -> str:
    """Text for a map's tooltips, popups and labels: HTML-escaped (quotes too) and inert in
    a JavaScript template literal, so no name can run code or break the map's script."""
    out = html.escape(str(value), quote=True)
    for ch, entity in _TEMPLATE_LITERAL.items():
        out = out.replace(ch, entity)
    return out


#: Leaflet panes of ruralnet's layers and their z-indices: above the tiles and the hillshade
#: (Leaflet's overlay pane, 400), below the markers (600) that carry the township names.
PANES = {"areas": 410, "lines": 420, "points": 430}


def pane_for(m: folium.Map, geometry_type: str) -> str:
    """The pane a layer of this geometry type is drawn in, created on the map when first
    used (before the layer that needs it)."""
    kind = "points" if "Point" in geometry_type else "lines" if "Line" in geometry_type else "areas"
    name = f"ruralnet-{kind}"
    made = m.__dict__.setdefault("_ruralnet_panes", set())
    if name not in made:
        CustomPane(name, z_index=PANES[kind], pointer_events=True).add_to(m)
        made.add(name)
    return name


def group_layer(m: folium.Map, group: str, label: str, layer) -> None:
    """Put ``layer`` (added to the map with ``control=False``) under the node ``group`` of the
    layer list, named ``label``."""
    groups = m.__dict__.setdefault("_ruralnet_groups", {})
    groups.setdefault(group, []).append((label, layer))


def add_layer_tree(m: folium.Map, lang: str = "zh") -> folium.Map:
    """The layer list: every layer in the list in the order added, then each group as one
    collapsed node with a box that toggles all its layers (e.g. the bus routes of every
    township under 校车线路). Base layers (tiles) as radio buttons when there are several."""
    overlays, bases = [], []
    for child in m._children.values():
        if isinstance(child, folium.map.Layer) and child.control and child.layer_name:
            node = {"label": map_text(child.layer_name), "layer": child}
            (overlays if child.overlay else bases).append(node)
    for group, layers in m.__dict__.get("_ruralnet_groups", {}).items():
        overlays.append(
            {
                "label": map_text(group),
                "selectAllCheckbox": "全选" if lang == "zh" else "all",
                "collapsed": True,
                "children": [{"label": map_text(name), "layer": lay} for name, lay in layers],
            }
        )
    _LayerTree(
        {"label": "底图" if lang == "zh" else "basemap", "children": bases}
        if len(bases) > 1
        else None,
        overlays,
        {"collapsed": False, "closedSymbol": "&#9656;", "openedSymbol": "&#9662;",
         "spaceSymbol": "&nbsp;"},
    ).add_to(m)  # fmt: skip
    # a short list: the tree scrolls inside the map instead of covering it
    m.get_root().header.add_child(
        Element(
            "<style>.leaflet-control-layers-expanded{max-height:55vh;overflow-y:auto}"
            ".leaflet-layerstree-header-pointer{cursor:pointer}</style>"
        )
    )
    return m


class _LayerTree(JSCSSMixin, folium.MacroElement):
    """Leaflet.Control.Layers.Tree, as folium's ``TreeLayerControl`` writes it (not imported
    from ``folium.plugins``: that package imports every plugin, a tenth of a second a run)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.control.layers.tree(
                {{ this.base_tree|tojavascript }},
                {{ this.overlay_tree|tojavascript }},
                {{ this.options|tojavascript }}
            ).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )
    default_js: ClassVar[list] = [
        (
            "L.Control.Layers.Tree.min.js",
            "https://cdn.jsdelivr.net/npm/leaflet.control.layers.tree@1.2.0/L.Control.Layers.Tree.min.js",
        )
    ]
    default_css: ClassVar[list] = [
        (
            "L.Control.Layers.Tree.min.css",
            "https://cdn.jsdelivr.net/npm/leaflet.control.layers.tree@1.2.0/L.Control.Layers.Tree.min.css",
        )
    ]

    def __init__(self, base_tree, overlay_tree, options: dict) -> None:
        super().__init__()
        self._name = "TreeLayerControl"
        self.base_tree, self.overlay_tree, self.options = base_tree, overlay_tree, options


class Spiderfier(JSCSSMixin, folium.MacroElement):
    """Spreads the circle markers of ``layer`` that lie within ``nearby_px`` of each other
    apart when one is clicked (OverlappingMarkerSpiderfier), with a thin leg to their place;
    a click elsewhere or a zoom puts them back."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            if (!L.CircleMarker.prototype.setZIndexOffset) {
                L.CircleMarker.include({setZIndexOffset: function () {
                    this.bringToFront(); return this; }});
            }
            var oms = new OverlappingMarkerSpiderfier(
                {{ this._parent.get_name() }}, {{ this.options|tojson }});
            oms.addListener('spiderfy', function () {
                {{ this._parent.get_name() }}.closePopup(); });
            {{ this.layer.get_name() }}.eachLayer(function (l) { oms.addMarker(l); });
            {{ this._parent.get_name() }}.ruralnetSpiderfier = oms;
        })();
        {% endmacro %}
        """
    )
    default_js: ClassVar[list] = [
        (
            "overlappingmarkerjs",
            "https://cdnjs.cloudflare.com/ajax/libs/OverlappingMarkerSpiderfier-Leaflet/0.2.6/oms.min.js",
        )
    ]

    def __init__(self, layer, nearby_px: int = 16) -> None:
        super().__init__()
        self._name = "Spiderfier"
        self.layer = layer
        self.options = {"keepSpiderfied": True, "nearbyDistance": nearby_px, "legWeight": 1.5}
