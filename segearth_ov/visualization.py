"""Pictures of label maps: one colour per class *name*, colour overlays with a legend.

`class_colours` is the one place classes get their colours (overlays, the web page's
legend and tiles, GeoTIFF colour tables, QGIS styles, STAC items, dataset metainfo). A
class keeps its colour from run to run whatever its index: common land-cover names get
the colour a map reader expects (water blue, vegetation green, buildings red, roads orange
and paved surfaces magenta — grey would vanish on asphalt and grey roofs in an overlay —,
bare land tan, cropland yellow, background black), matched on any synonym of the class
line; other names get a colour from a hash of the name, so "ship" is the same colour in
every run. Two classes of one map never share a colour while the palettes have one left.
"""
from __future__ import annotations

import hashlib
import re

import numpy as np

# Land-cover groups: the shades of a group, first the one its plain name gets.
_SHADES = {
    'water': [(31, 100, 220), (70, 150, 240), (0, 60, 160), (0, 190, 230), (120, 180, 250)],
    'vegetation': [(34, 139, 34), (0, 100, 0), (124, 205, 80), (85, 160, 60), (160, 220, 120)],
    'crop': [(240, 210, 50), (255, 235, 120), (210, 180, 20)],
    'building': [(220, 40, 40), (180, 20, 40), (240, 100, 90), (150, 30, 30), (255, 140, 130)],
    # roads, paved and impervious surfaces: saturated warm colours that stand out on grey
    'road': [(255, 120, 0), (235, 0, 180), (150, 40, 210), (255, 170, 90), (120, 0, 90)],
    'bare': [(210, 180, 140), (190, 150, 100), (238, 214, 175), (160, 120, 80)],
    'snow': [(225, 240, 255), (190, 225, 245)],
    'background': [(0, 0, 0), (40, 40, 40), (25, 25, 50)],
}

# name → (group, shade). Names are matched lower-case with '_'/'-' as spaces.
_NAMES = {
    'water': ('water', 0), 'waterbody': ('water', 0), 'water body': ('water', 0),
    'river': ('water', 1), 'stream': ('water', 1), 'canal': ('water', 1),
    'sea': ('water', 2), 'ocean': ('water', 2), 'sea lake': ('water', 2),
    'lake': ('water', 1), 'pond': ('water', 4), 'reservoir': ('water', 1),
    'swimming pool': ('water', 3), 'pool': ('water', 3), 'wetland': ('water', 3),
    'vegetation': ('vegetation', 0), 'greenery': ('vegetation', 0), 'green': ('vegetation', 0),
    'tree': ('vegetation', 1), 'trees': ('vegetation', 1), 'forest': ('vegetation', 1),
    'woodland': ('vegetation', 1), 'dense tree cover': ('vegetation', 1),
    'tree cover': ('vegetation', 1), 'rangeland': ('vegetation', 3),
    'grass': ('vegetation', 2), 'grassland': ('vegetation', 2), 'meadow': ('vegetation', 2),
    'lawn': ('vegetation', 2), 'low vegetation': ('vegetation', 2),
    'shrub': ('vegetation', 3), 'shrubland': ('vegetation', 3), 'bush': ('vegetation', 3),
    'cropland': ('crop', 0), 'crop': ('crop', 0), 'crops': ('crop', 0),
    'agriculture': ('crop', 0), 'agricultural': ('crop', 0), 'agricultural land': ('crop', 0),
    'farmland': ('crop', 0), 'farm': ('crop', 0), 'paddy': ('crop', 2),
    'building': ('building', 0), 'buildings': ('building', 0), 'roof': ('building', 1),
    'rooftop': ('building', 1), 'house': ('building', 0), 'city': ('building', 3),
    'urban': ('building', 3), 'built up': ('building', 3), 'settlement': ('building', 3),
    'village': ('building', 2), 'facade': ('building', 4), 'residential': ('building', 2),
    'road': ('road', 0), 'roads': ('road', 0), 'roadway': ('road', 0), 'street': ('road', 0),
    'highway': ('road', 0), 'pavement': ('road', 1), 'sidewalk': ('road', 1),
    'impervious surface': ('road', 1), 'impervious surfaces': ('road', 1),
    'parking lot': ('road', 2), 'parking': ('road', 2), 'runway': ('road', 3),
    'railway': ('road', 4), 'bridge': ('road', 2),
    'bareland': ('bare', 0), 'bare land': ('bare', 0), 'barren': ('bare', 0),
    'barren land': ('bare', 0), 'bare soil': ('bare', 1), 'soil': ('bare', 1),
    'bareground': ('bare', 0), 'bare ground': ('bare', 0), 'sand': ('bare', 2),
    'desert': ('bare', 2), 'beach': ('bare', 2), 'rock': ('bare', 3),
    'snow': ('snow', 0), 'ice': ('snow', 1), 'glacier': ('snow', 1),
    'background': ('background', 0), 'others': ('background', 0), 'other': ('background', 0),
    'clutter': ('background', 1), 'unknown': ('background', 1), 'void': ('background', 0),
    'unlabeled': ('background', 0), 'no data': ('background', 2), 'nodata': ('background', 2),
}
# Single words that name the group also inside longer names ("dense tree cover", "dirt
# road"); words such as "field" or "ground" are not here: "soccer ball field" is no crop.
_WORDS = {w: _NAMES[w] for w in ('water', 'river', 'lake', 'sea', 'vegetation', 'tree', 'trees',
                                 'forest', 'grass', 'building', 'buildings', 'roof', 'house',
                                 'road', 'roads', 'pavement', 'barren', 'bareland', 'sand',
                                 'cropland', 'farmland', 'snow')}

# Colours for the other names: well apart from each other and from the land-cover shades
# (no blue, green, red, orange, magenta, tan or yellow that could be read as land cover).
FALLBACK = np.array([
    (148, 103, 189), (0, 80, 100), (227, 119, 194), (23, 190, 170), (140, 86, 75),
    (128, 128, 0), (120, 110, 255), (110, 60, 150), (200, 0, 120), (0, 140, 140),
    (250, 150, 200), (180, 120, 0), (160, 160, 255), (90, 60, 30), (0, 210, 200),
    (205, 130, 175), (130, 90, 200), (70, 0, 140), (0, 60, 60), (255, 210, 230),
], dtype=np.uint8)


# what the overlays show for no-data pixels (the class maps leave them transparent)
NODATA_COLOUR = np.array([255, 255, 255], np.uint8)


def _normal(name: str) -> str:
    return re.sub(r'\s+', ' ', re.sub(r'[_\-]+', ' ', str(name).lower())).strip()


def _synonyms(line) -> list[str]:
    """'building,roof,house' or ['building', 'roof'] → normalised names."""
    items = line.split(',') if isinstance(line, str) else list(line)
    return [n for n in (_normal(s) for s in items) if n]


def semantic(line) -> tuple[str, int] | None:
    """(group, shade) of a class line: the first synonym with a land-cover name, else the
    first with a land-cover word in it; None for other names."""
    names = _synonyms(line)
    for n in names:
        if n in _NAMES:
            return _NAMES[n]
    for n in names:
        for word in n.split():
            if word in _WORDS:
                return _WORDS[word]
    return None


def _hash(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode('utf-8')).digest()[:8], 'big')


def class_colours(classes) -> np.ndarray:
    """N×3 uint8 RGB, one per class line ('water,river' or a list of synonyms).

    Land-cover classes first take their group's shade (another shade of the group when an
    earlier class has it); the others take FALLBACK[hash(name)], moving on to the next
    unused one on a clash.
    """
    lines = list(classes)
    out = np.zeros((len(lines), 3), np.uint8)
    used: set[tuple] = set()
    rest = []
    for i, line in enumerate(lines):
        hit = semantic(line)
        if hit is None:
            rest.append(i)
            continue
        shades = _SHADES[hit[0]]
        order = shades[hit[1]:] + shades[:hit[1]]
        colour = next((c for c in order if c not in used), None)
        if colour is None:
            rest.append(i)
            continue
        used.add(colour)
        out[i] = colour
    for i in rest:
        names = _synonyms(lines[i]) or ['']
        h = _hash(names[0])
        for k in range(len(FALLBACK)):
            colour = tuple(int(v) for v in FALLBACK[(h + k) % len(FALLBACK)])
            if colour not in used:
                break
        else:   # more classes than colours: a colour from the hash itself
            colour = tuple(int(v) for v in h.to_bytes(8, 'big')[:3])
        used.add(colour)
        out[i] = colour
    return out


def colorize(pred: np.ndarray, classes) -> np.ndarray:
    """H×W labels → H×W×3 RGB in the classes' colours."""
    return class_colours(classes)[pred]


def share_text(fraction: float) -> str:
    """A share of the pixels as the legend shows it: '12.3%', and '<0.1%' for a class
    with a few pixels (not '0.0%', which reads as absent)."""
    pct = 100 * float(fraction)
    return '<0.1%' if 0 < pct < 0.1 else f'{pct:.1f}%'


def rows_first(items: list, ncol: int) -> list:
    """`items` reordered so that matplotlib's legend, which fills column by column, shows
    them row by row (class order read left to right, as text is)."""
    if ncol < 2:
        return list(items)
    return [items[i] for j in range(ncol) for i in range(j, len(items), ncol)]


def save_overlay(path, image: np.ndarray, pred: np.ndarray, class_names: list,
                 alpha: float = 0.5, title: str | None = None,
                 colours: np.ndarray | None = None) -> None:
    """Save image | colour overlay side by side, with a legend of the classes present.

    `class_names`: one entry per label value (a name, a 'name,synonym' line or a list of
    synonyms); the legend shows the first name of each. `colours`: N×3 RGB (default:
    `class_colours(class_names)`)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    colours = class_colours(class_names) if colours is None else np.asarray(colours, np.uint8)
    blend = (image.astype(np.float32) * (1 - alpha) + colours[pred] * alpha).astype(np.uint8)
    h, w = pred.shape
    fig, axes = plt.subplots(1, 2, figsize=(12, 6 * h / w + 0.8), dpi=100)
    for ax, im, t in zip(axes, (image, blend), ('image', 'prediction')):
        ax.imshow(im)
        ax.set_title(t)
        ax.axis('off')
    counts = np.bincount(pred.ravel(), minlength=len(class_names))
    labels = [n.split(',')[0] if isinstance(n, str) else (list(n) or [''])[0]
              for n in class_names]
    handles = [Patch(color=colours[i] / 255.0, label=f'{name} ({share_text(counts[i] / pred.size)})')
               for i, name in enumerate(labels) if counts[i]]
    ncol = min(len(handles), 5)
    fig.legend(handles=rows_first(handles, ncol), loc='lower center', ncol=ncol, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 0.96 if title else 1))   # the title above the panels
    fig.savefig(path)
    plt.close(fig)
