"""Run by qgis/screenshot.sh inside QGIS (`qgis --code`): loads the plugin's provider, runs
"Segment raster by class names" on the demo tile with the tiny models, shows the input,
the class raster and the polygons as the plugin loads them, and saves the main window."""
import os
import shutil
import sys
import traceback

from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtGui import QImage
from qgis.PyQt.QtWidgets import QDockWidget
from qgis.utils import iface

ROOT = os.environ['SEGEARTH_ROOT']
WORK = os.environ['SEGEARTH_SHOT_WORK']
MODELS = os.path.join(ROOT, 'tests', 'data', 'models')
TILE = os.path.join(ROOT, 'data', 'demo', 'oem_koeln_50.tif')


def guarded(fn):
    """An exception in a timer's slot would open QGIS's error dialog and wait forever."""
    def run():
        try:
            fn()
        except Exception:      # noqa: BLE001
            with open(os.path.join(WORK, 'error.txt'), 'w') as f:
                f.write(traceback.format_exc())
            os._exit(1)
    return run


def segment():
    sys.path.insert(0, os.path.join(ROOT, 'qgis'))
    import processing
    import segearth_ov_qgis
    global plugin
    plugin = segearth_ov_qgis.classFactory(iface)
    plugin.initProcessing()
    # a copy: QGIS writes statistics into an .aux.xml beside a raster it reads
    tile = QgsRasterLayer(shutil.copy(TILE, WORK), 'oem_koeln_50')
    QgsProject.instance().addMapLayer(tile)
    processing.runAndLoadResults('segearth_ov:segment_by_class_names', dict(
        INPUT=tile, CLASSES='background;building,roof,house;road;tree,forest;water,river;grass',
        PRETRAINED=os.path.join(MODELS, 'tiny_clip', 'tiny-clip-vit-b16.pt'),
        MODEL_CFG=os.path.join(MODELS, 'tiny_clip', 'tiny-clip-vit-b16.json'),
        UPSAMPLER_CKPT=os.path.join(MODELS, 'simfeatup', 'tiny_jbu_one.ckpt'), DEVICE=1,
        OPTIONS='--gsd 1.0', OUTPUT=os.path.join(WORK, 'classes.tif'),
        OUTPUT_POLYGONS=os.path.join(WORK, 'polygons.gpkg')))
    root = QgsProject.instance().layerTreeRoot()
    for layer in QgsProject.instance().mapLayers().values():
        if layer.name().endswith(' polygons'):
            layer.setOpacity(0.55)
        elif layer.name().endswith(' classes'):
            node = root.findLayer(layer.id())
            node.setItemVisibilityChecked(False)
            node.setExpanded(True)
    iface.mapCanvas().setExtent(tile.extent())
    iface.mapCanvas().refreshAllLayers()
    QTimer.singleShot(8000, guarded(shoot))


def shoot():
    image = iface.mainWindow().grab().toImage().convertToFormat(QImage.Format_Indexed8)
    image.save(os.environ['SEGEARTH_SHOT'])     # a palette PNG: a third of the size
    os._exit(0)      # QGIS 3.22 may abort in its own clean-up when quitting normally


iface.mainWindow().setGeometry(0, 0, 1400, 860)
for dock in iface.mainWindow().findChildren(QDockWidget):
    if dock.objectName() == 'Browser':
        dock.hide()
QTimer.singleShot(3000, guarded(segment))
