"""The canvas: a zoomable, pannable view of the document's layers with brushes on top.

Zoom keeps the image point under the cursor fixed (wheel), fit and 100% are one key
each; the middle button or space-drag pans. Brush strokes go to the active paint
layer (mask, sketch or colour paint) as :class:`~gui.canvas.brush.Stroke` objects, and each one
becomes a single undo step when the button is released. In compare mode the result
is drawn only right of a split line the user drags: before | after.

The view stays fitted to the window as it grows or shrinks until the user zooms (wheel,
100 %, zoom keys); Fit (Ctrl+0) fits again and resumes that.
"""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBitmap,
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from gui.canvas.brush import ColourStroke, Stroke
from gui.canvas.tiles import (
    TiledLayer,
    mask_render,
    paint_render,
    photo_render,
    sketch_render,
)
from gui.document import Document, Layer, PlaneEdit

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
MASK_COLOUR = (230, 40, 40)
SKETCH_PAPER = 0.72  # opacity of the sketch's paper over the photo: the photo shows faintly
PREVIEW_SLACK = 0.01  # share of the photo's height a preview may be off after scaling
PREVIEW_Z = 1.5  # a job's preview: over the photo and result, under lines, colour and mask


class Tool(StrEnum):
    NONE = "none"  # pointer: no painting, left-drag pans
    BRUSH = "brush"
    ERASER = "eraser"


class CanvasView(QGraphicsView):
    """Shows one :class:`Document`; the workspaces choose the tool and paint layer."""

    stroke_finished = Signal(str)  # the layer painted
    zoom_changed = Signal(float)
    brush_changed = Signal(float, float)  # radius (image pixels), hardness
    layer_shown = Signal(str, bool)  # a layer was shown or hidden

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QColor(38, 40, 44))
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setMouseTracking(True)
        # panning may take the image edge to the middle of the view, as in painting apps,
        # so zooming near an edge still keeps the point under the cursor in place
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.document: Document | None = None
        self.layers: dict[Layer, TiledLayer] = {}
        self.tool = Tool.NONE
        self.paint_layer = Layer.MASK
        self.radius = 12.0
        self.hardness = 0.8
        self.paint_colour: tuple[int, int, int] = (120, 160, 220)  # colour-paint brush
        self._stroke: Stroke | None = None
        self._pan_from: QPointF | None = None
        self._space = False
        self._cursor: QPointF | None = None  # scene position of the brush outline
        self._preview = QGraphicsPixmapItem()
        self._preview.setZValue(PREVIEW_Z)
        self._preview.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._faces: list[QGraphicsRectItem] = []
        self._faces_visible = True
        self.compare = False
        self.compare_x = 0.0
        self._dragging_split = False
        self._mask_outline = False  # a job works inside the mask: show its border only
        self._outline_always = False  # the mask is a region others draw inside (Sketch)
        # Sketch's Draw into photo: paper opacity of the lines (None: the usual rule) and
        # lines outside the mask dimmed (they are not used there)
        self._sketch_paper: float | None = None
        self._lines_in_mask = False
        self._fitted = True  # re-fit on resize until the user zooms

    # --- document and layers ----------------------------------------------------

    def set_document(self, document: Document) -> None:
        scene = self.scene()
        scene.clear()
        self._faces = []
        self.document = document
        self.layers = {
            Layer.PHOTO: TiledLayer(
                document.width, document.height, photo_render(lambda: document.photo_rgb8)
            ),
            Layer.RESULT: TiledLayer(
                document.width, document.height, photo_render(lambda: document.result_rgb8)
            ),
            Layer.SKETCH: TiledLayer(
                document.width,
                document.height,
                sketch_render(
                    lambda: document.sketch,
                    lambda: self._paper(document),
                    lambda: document.mask if self._lines_in_mask else None,
                ),
            ),
            Layer.PAINT: TiledLayer(
                document.width, document.height, paint_render(lambda: document.paint_if_any)
            ),
            Layer.MASK: TiledLayer(
                document.width,
                document.height,
                mask_render(
                    lambda: document.mask,
                    MASK_COLOUR,
                    lambda: self._mask_outline or self._outline_always,
                ),
            ),
        }
        order = (Layer.PHOTO, Layer.RESULT, Layer.SKETCH, Layer.PAINT, Layer.MASK)
        for z, layer in enumerate(order):
            item = self.layers[layer]
            item.setZValue(z)
            scene.addItem(item)
        self.layers[Layer.MASK].setOpacity(0.6)
        self.layers[Layer.SKETCH].setVisible(False)
        self.layers[Layer.RESULT].setVisible(document.result is not None)
        self._preview = QGraphicsPixmapItem()
        self._preview.setZValue(PREVIEW_Z)
        self._preview.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        scene.addItem(self._preview)
        document.changed.connect(self._on_changed)
        self.compare_x = document.width / 2
        self.fit()

    def _paper(self, document: Document) -> float:
        if self._sketch_paper is not None:
            return self._sketch_paper
        return 0.0 if document.result is not None else SKETCH_PAPER

    def _on_changed(self, layer: str, rect: QRect) -> None:
        item = self.layers.get(Layer(layer))
        if item is None:
            return
        item.invalidate(rect)
        if layer == Layer.MASK and self._lines_in_mask:
            self.layers[Layer.SKETCH].invalidate(rect)  # lines there are (no longer) used
        if layer == Layer.RESULT and self.document is not None:
            item.setVisible(self.document.result is not None)
            self.layers[Layer.SKETCH].invalidate()  # its paper hides only the photo

    def set_layer_visible(self, layer: Layer, visible: bool) -> None:
        if layer in self.layers:
            self.layers[layer].setVisible(visible)
            self.layer_shown.emit(str(layer), visible)

    def layer_visible(self, layer: Layer) -> bool:
        return layer in self.layers and self.layers[layer].isVisible()

    def set_mask_outline(self, on: bool) -> None:
        """Draw only the mask's border (while a job works inside it), or the whole mask."""
        if on != self._mask_outline:
            self._mask_outline = on
            if Layer.MASK in self.layers:
                self.layers[Layer.MASK].invalidate()

    def set_region_mode(self, on: bool) -> None:
        """Draw into a region (Sketch's Draw into photo): the mask is drawn as its border,
        so what is redrawn inside it shows; lines have no paper and are dimmed outside
        the mask, where they are not used. Off: the usual rules of each layer."""
        if on == self._outline_always:
            return
        self._outline_always = self._lines_in_mask = on
        self._sketch_paper = 0.0 if on else None
        for layer in (Layer.MASK, Layer.SKETCH):
            if layer in self.layers:
                self.layers[layer].invalidate()

    @property
    def region_mode(self) -> bool:
        return self._outline_always

    def set_layer_opacity(self, layer: Layer, opacity: float) -> None:
        if layer in self.layers:
            self.layers[layer].setOpacity(opacity)

    def show_preview(self, image: QImage | None, region: QBitmap | None = None) -> bool:
        """A job's in-progress image over the photo, scaled to the document's width, and
        drawn only inside ``region`` (a bitmap of the preview's size) when given.

        An image of another aspect ratio than the photo's cannot be placed on it: the
        preview is cleared and False returned (None clears it too)."""
        if image is None or image.isNull() or self.document is None:
            self._preview.setPixmap(QPixmap())
            return False
        scale = self.document.width / image.width()
        off = abs(image.height() * scale - self.document.height)
        if off > max(1.0, self.document.height * PREVIEW_SLACK):
            self._preview.setPixmap(QPixmap())
            return False
        pixmap = QPixmap.fromImage(image)
        if region is not None:
            pixmap.setMask(region)
        self._preview.setPixmap(pixmap)
        self._preview.setScale(scale)
        return True

    @property
    def preview_shown(self) -> bool:
        return not self._preview.pixmap().isNull()

    def show_faces(self, boxes: list[tuple[float, float, float, float]]) -> None:
        """Outline faces found by a restore: (x0, y0, x1, y1) in image pixels (drawn only
        while :meth:`set_faces_visible` allows it)."""
        for item in self._faces:
            self.scene().removeItem(item)
        self._faces = []
        pen = QPen(QColor(90, 200, 255), 2)
        pen.setCosmetic(True)
        for x0, y0, x1, y1 in boxes:
            item = self.scene().addRect(QRectF(x0, y0, x1 - x0, y1 - y0), pen)
            item.setZValue(10)
            item.setVisible(self._faces_visible)
            self._faces.append(item)

    def set_faces_visible(self, visible: bool) -> None:
        """The face outlines belong to the Restore workspace: other workspaces (and their
        screenshots) hide them without forgetting them."""
        self._faces_visible = visible
        for item in self._faces:
            item.setVisible(visible)

    @property
    def faces_shown(self) -> int:
        """How many face outlines are drawn on the canvas now."""
        return sum(item.isVisible() for item in self._faces)

    # --- zoom and pan -----------------------------------------------------------

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_at(self, factor: float, view_pos: QPointF) -> None:
        """Scale by ``factor`` keeping the scene point under ``view_pos`` where it is."""
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom * factor))
        if target == self.zoom:
            return
        anchor = self.mapToScene(view_pos.toPoint())
        self._fitted = False
        self.scale(target / self.zoom, target / self.zoom)
        self._update_scene_rect()
        moved = self.mapFromScene(anchor) - view_pos.toPoint()
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self.zoom_changed.emit(self.zoom)

    def fit(self) -> None:
        if self.document is None:
            return
        image = QRectF(0, 0, self.document.width, self.document.height)
        self.fitInView(image, Qt.AspectRatioMode.KeepAspectRatio)
        self._update_scene_rect()
        self.centerOn(image.center())
        self._fitted = True
        self.zoom_changed.emit(self.zoom)

    def actual_size(self) -> None:
        self._fitted = False
        centre = self.mapToScene(self.viewport().rect().center())
        self.setTransform(self.transform().fromScale(1.0, 1.0))
        self._update_scene_rect()
        self.centerOn(centre)
        self.zoom_changed.emit(self.zoom)

    def _update_scene_rect(self) -> None:
        """The image plus most of a viewport of room on each side, at the current zoom."""
        if self.document is None:
            return
        margin_x = self.viewport().width() / max(self.zoom, 1e-6) * 0.9
        margin_y = self.viewport().height() / max(self.zoom, 1e-6) * 0.9
        self.setSceneRect(
            QRectF(0, 0, self.document.width, self.document.height).adjusted(
                -margin_x, -margin_y, margin_x, margin_y
            )
        )

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        centre = self.mapToScene(self.viewport().rect().center())
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self._fitted:
            self.fit()
            return
        self._update_scene_rect()
        self.centerOn(centre)

    def set_brush(self, radius: float | None = None, hardness: float | None = None) -> None:
        """Change the brush; the outline is repainted where the old one was drawn too."""
        at = self._cursor
        self._update_cursor(None)  # erase the outline at the old size
        if radius is not None:
            self.radius = min(500.0, max(0.5, radius))
        if hardness is not None:
            self.hardness = min(1.0, max(0.0, hardness))
        self.brush_changed.emit(self.radius, self.hardness)
        self._update_cursor(at)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_at(1.25**steps, event.position())
        event.accept()

    # --- compare ------------------------------------------------------------------

    def set_compare(self, on: bool) -> None:
        """Before | after: the result only right of the split line."""
        self.compare = on
        if Layer.RESULT in self.layers:
            self.layers[Layer.RESULT].clip_left = self.compare_x if on else None
            self.layers[Layer.RESULT].update()
        self.viewport().update()

    def set_split(self, x: float) -> None:
        if self.document is None:
            return
        self.compare_x = min(float(self.document.width), max(0.0, x))
        self.set_compare(self.compare)

    def _near_split(self, view_pos: QPointF) -> bool:
        line = self.mapFromScene(QPointF(self.compare_x, 0)).x()
        return self.compare and abs(view_pos.x() - line) <= 8

    # --- mouse: paint, pan, split ---------------------------------------------------

    def _painting_enabled(self) -> bool:
        return self.document is not None and self.tool != Tool.NONE and not self._space

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        pos = event.position()
        left = event.button() == Qt.MouseButton.LeftButton
        if event.button() == Qt.MouseButton.MiddleButton or (
            left and (self._space or self.tool == Tool.NONE) and not self._near_split(pos)
        ):
            self._pan_from = pos
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        elif left and self._near_split(pos):
            self._dragging_split = True
        elif left and self._painting_enabled() and self.document is not None:
            layer = self.paint_layer
            plane = self.document.plane(layer)
            self.set_layer_visible(layer, True)  # never paint blind on a hidden layer
            if layer == Layer.PAINT:
                colour = None if self.tool == Tool.ERASER else self.paint_colour
                self._stroke = ColourStroke(plane, colour, self.radius, self.hardness)
            else:
                background = 0 if layer == Layer.MASK else 255
                ink = 255 if layer == Layer.MASK else 0
                target = background if self.tool == Tool.ERASER else ink
                self._stroke = Stroke(plane, target, self.radius, self.hardness)
            self._extend_stroke(self.mapToScene(pos.toPoint()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        pos = event.position()
        scene_pos = self.mapToScene(pos.toPoint())
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
        elif self._dragging_split:
            self.set_split(scene_pos.x())
        elif self._stroke is not None:
            self._extend_stroke(scene_pos)
        if self._near_split(pos) or self._dragging_split:
            self.viewport().setCursor(Qt.CursorShape.SplitHCursor)
        elif self._pan_from is None:
            self.viewport().setCursor(
                Qt.CursorShape.CrossCursor
                if self._painting_enabled()
                else Qt.CursorShape.OpenHandCursor
            )
        self._update_cursor(scene_pos if self._painting_enabled() else None)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_from = None
            self.viewport().unsetCursor()
        self._dragging_split = False
        if self._stroke is not None and event.button() == Qt.MouseButton.LeftButton:
            self._finish_stroke()
        event.accept()

    def leaveEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self._update_cursor(None)

    def _extend_stroke(self, scene_pos: QPointF) -> None:
        assert self._stroke is not None and self.document is not None
        box = self._stroke.to(scene_pos.x(), scene_pos.y())
        if not box.empty:
            self.document.touched(self.paint_layer, box)

    def _finish_stroke(self) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is None or self.document is None or stroke.bounds.empty:
            return
        name = "Erase" if self.tool == Tool.ERASER else "Paint"
        what = {Layer.MASK: "mask", Layer.SKETCH: "sketch", Layer.PAINT: "colour"}
        text = f"{name} {what.get(self.paint_layer, str(self.paint_layer))}"
        self.document.undo.push(
            PlaneEdit(self.document, self.paint_layer, stroke.bounds, stroke.before(), text)
        )
        self.stroke_finished.emit(str(self.paint_layer))

    # --- keys: space pans ------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            self._update_cursor(None)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
            return
        super().keyReleaseEvent(event)

    # --- overlays: brush outline, split line -------------------------------------------

    def _cursor_rect(self, scene_pos: QPointF | None) -> QRect:
        if scene_pos is None:
            return QRect()
        centre = self.mapFromScene(scene_pos)
        reach = int(self.radius * self.zoom) + 3
        return QRect(centre.x() - reach, centre.y() - reach, 2 * reach + 1, 2 * reach + 1)

    def _update_cursor(self, scene_pos: QPointF | None) -> None:
        old = self._cursor_rect(self._cursor)
        self._cursor = scene_pos
        self.viewport().update(old.united(self._cursor_rect(scene_pos)))

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        if self._cursor is not None:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            for colour, width in ((QColor(0, 0, 0, 160), 3), (QColor(255, 255, 255), 1)):
                pen = QPen(colour, width)
                pen.setCosmetic(True)
                painter.setPen(pen)
                painter.drawEllipse(self._cursor, self.radius, self.radius)
        if self.compare and self.document is not None:
            pen = QPen(QColor(255, 255, 255), 2)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLine(
                QPointF(self.compare_x, 0), QPointF(self.compare_x, self.document.height)
            )
            centre = QPointF(self.compare_x, self.document.height / 2)
            painter.save()
            painter.resetTransform()
            handle = self.mapFromScene(centre)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setBrush(QColor(255, 255, 255))
            painter.setPen(QPen(QColor(0, 0, 0, 120), 1))
            painter.drawEllipse(QPointF(handle), 11, 11)
            painter.setPen(QPen(QColor(40, 40, 40), 2))
            painter.drawText(
                QRectF(handle.x() - 11, handle.y() - 11, 22, 22),
                Qt.AlignmentFlag.AlignCenter,
                "\u2194",
            )
            painter.restore()
