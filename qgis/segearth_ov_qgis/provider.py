"""The "SegEarth-OV" Processing provider (GUI, graphical modeler, batch mode, qgis_process)."""
from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import SETTING_PYTHON, SegmentByClassNames, SegmentWithTrainedModel

ICON = str(Path(__file__).with_name('icon.png'))


class SegEarthProvider(QgsProcessingProvider):

    def id(self):
        return 'segearth_ov'

    def name(self):
        return 'SegEarth-OV'

    def longName(self):
        return 'SegEarth-OV: open-vocabulary segmentation of remote-sensing images'

    def icon(self):
        return QIcon(ICON)

    def svgIconPath(self):
        return ICON

    def supportedOutputRasterLayerExtensions(self):
        return ['tif']

    def supportedOutputVectorLayerExtensions(self):
        return ['gpkg', 'geojson', 'fgb']

    def load(self):
        """The setting of the environment's Python (Settings ▸ Options ▸ Processing ▸
        Providers ▸ SegEarth-OV), where the processing plugin is there to hold it."""
        try:
            from processing.core.ProcessingConfig import ProcessingConfig, Setting
        except ImportError:
            return super().load()
        ProcessingConfig.settingIcons[self.name()] = self.icon()
        ProcessingConfig.addSetting(Setting(
            self.name(), SETTING_PYTHON,
            'Python (or segearth-predict) of the SegEarth-OV environment (empty: found '
            'from the environment QGIS was started in)', '', valuetype=Setting.FILE))
        ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self):
        try:
            from processing.core.ProcessingConfig import ProcessingConfig
            ProcessingConfig.removeSetting(SETTING_PYTHON)
        except ImportError:
            pass

    def loadAlgorithms(self):
        self.addAlgorithm(SegmentByClassNames())
        self.addAlgorithm(SegmentWithTrainedModel())
