"""SegEarth-OV for QGIS: open-vocabulary segmentation of raster layers, run locally by the
SegEarth-OV environment (docs/qgis.md)."""


def classFactory(iface):
    from .plugin import SegEarthPlugin
    return SegEarthPlugin(iface)
