"""Synthetic camera bursts made from the shared photos, in memory only (no picture is written).

A genuine burst: the photo is placed in a 640×480 frame, its 68 landmarks found by dlib, and each
landmark given a depth from a generic head of the tests' own (an ellipsoid with a nose, deliberately
not ``face_check.geometry.GENERIC_FACE``, so the pose estimate is not checked against itself). The
landmarks plus forehead points are triangulated; a frame turns the head by rotating those points in
yaw and pitch about a centre behind the face and re-projecting them, then warps every triangle of
the photo to its new place (piecewise affine, nearest triangles drawn last so the nose hides the far
cheek). A blink pulls the upper eyelid landmarks onto the lower ones. Points far from the face stay
put, so the background does not move. Each frame gets sensor noise and is sent as a JPEG.

The cheats are made from the same photos: a print (grey card, rotated 5°, blurred), a screen (gamma,
moiré, glare), moved through space by a homography sequence that mimics the asked turns, a photo
repeated, shifted or flipped, another person's genuine burst, and an identity swap half way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from face_check.challenge import Action, Challenge
from face_check.landmarks import detect, load_dlib, shape

Frame = tuple[int, bytes]
Image = NDArray[np.uint8]
WIDTH, HEIGHT = 640, 480
FPS = 10


def decode(data: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


def jpeg(image: Image, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def in_frame(image: Image) -> Image:
    """The photo scaled to fit a 640×480 camera frame, black around it (the issue's framing case)."""
    fit = min(WIDTH / image.shape[1], HEIGHT / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * fit), round(image.shape[0] * fit)))
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    y, x = (HEIGHT - resized.shape[0]) // 2, (WIDTH - resized.shape[1]) // 2
    frame[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
    return frame


def place(image: Image, scale: float = 0.95, background: int = 96) -> Image:
    """The photo fitted into a 640×480 webcam frame on a plain background."""
    fit = min(WIDTH / image.shape[1], HEIGHT / image.shape[0]) * scale
    resized = cv2.resize(image, (round(image.shape[1] * fit), round(image.shape[0] * fit)),
                         interpolation=cv2.INTER_AREA)
    frame = np.full((HEIGHT, WIDTH, 3), background, np.uint8)
    y, x = (HEIGHT - resized.shape[0]) // 2, (WIDTH - resized.shape[1]) // 2
    frame[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
    return frame


def _depth(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """z (towards the camera negative) for the 68 landmarks: an ellipsoid face and a nose."""
    centre = points[[36, 45, 8]].mean(axis=0)
    half_w = (points[16, 0] - points[0, 0]) / 2
    half_h = (points[8, 1] - points[19, 1]) / 1.6
    u, v = (points[:, 0] - centre[0]) / half_w, (points[:, 1] - centre[1]) / half_h
    z = -half_w * 0.75 * np.sqrt(np.clip(1.0 - 0.8 * u ** 2 - 0.5 * v ** 2, 0.05, None))
    nose = {27: 0.08, 28: 0.14, 29: 0.22, 30: 0.32, 31: 0.12, 32: 0.16, 33: 0.2, 34: 0.16, 35: 0.12}
    for i, extra in nose.items():
        z[i] -= extra * half_w * 2
    z[:17] = -half_w * 0.05  # the jaw contour is the silhouette, about level with the rotation's side
    return np.asarray(z, dtype=np.float64)


@dataclass
class Scene:
    """One photo ready to be turned: the frame, its points (landmarks, forehead, fixed border) and a
    triangulation of them."""

    frame: Image
    points: NDArray[np.float64]  # (n, 2)
    depth: NDArray[np.float64]  # (n,), only the first ``moving`` points move
    moving: int
    triangles: NDArray[np.int32]  # (m, 3) indices into points
    pivot_z: float

    @classmethod
    def from_photo(cls, photo: bytes, scale: float = 0.95) -> Scene:
        frame = place(decode(photo), scale)
        gray = np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
        models = load_dlib()
        found = detect(models, gray)
        assert len(found) == 1, "the scene's photo must show one face"
        marks = shape(models, gray, found[0].box)
        depth = _depth(marks)
        brow_h = marks[8, 1] - marks[19, 1]
        forehead = marks[17:27] - np.array([0.0, 0.45 * brow_h])
        cheeks = np.array([marks[0] + (marks[0] - marks[30]) * 0.15, marks[16] + (marks[16] - marks[30]) * 0.15])
        moving = np.vstack([marks, forehead, cheeks])
        depth = np.concatenate([depth, depth[17:27] + 0.1 * brow_h, [depth[0], depth[16]]])
        centre = marks[[0, 16, 8, 19, 24]].mean(axis=0)
        radius = np.array([(marks[16, 0] - marks[0, 0]) * 1.05, brow_h * 1.25])
        ring = np.array([centre + radius * (math.cos(a), math.sin(a)) for a in np.linspace(0, 2 * math.pi, 20,
                                                                                              endpoint=False)])
        border = np.array([(x, y) for x in (0, WIDTH / 2, WIDTH - 1) for y in (0, HEIGHT / 2, HEIGHT - 1)
                           if (x, y) != (WIDTH / 2, HEIGHT / 2)])
        points = np.vstack([moving, ring, border])
        return cls(frame, points, depth, len(moving), _triangulate(points), float(-depth.min() * 0.4 +
                                                                                   radius[0] * 0.5))

    def render(self, yaw: float = 0.0, pitch: float = 0.0, blink: float = 0.0, shift: tuple[float, float] = (0, 0),
               rng: np.random.Generator | None = None) -> Image:
        """The frame with the head turned by ``yaw`` degrees (> 0: the nose to the right of the picture)
        and ``pitch`` (> 0: up), the eyes closed by ``blink`` (0–1), moved by ``shift`` pixels."""
        moved = self.points.copy()
        head = moved[:self.moving]
        centre = self.points[[36, 45, 8]].mean(axis=0)
        xyz = np.column_stack([head - centre, self.depth - self.pivot_z])
        a, b = math.radians(yaw), math.radians(pitch)
        rot_y = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])
        rot_x = np.array([[1, 0, 0], [0, math.cos(b), math.sin(b)], [0, -math.sin(b), math.cos(b)]])
        turned = xyz @ (rot_x @ rot_y).T
        moved[:self.moving] = turned[:, :2] + centre + np.array(shift)
        z = np.concatenate([turned[:, 2], np.full(len(self.points) - self.moving, 1e6)])
        if blink > 0:
            for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
                moved[upper] += (moved[lower] - moved[upper]) * min(blink, 1.0) * 0.92
        image = warp(self.frame, self.points, moved, self.triangles, z, self.moving)
        if rng is not None:
            image = np.clip(image.astype(np.int16) + rng.normal(0, 2.0, image.shape).astype(np.int16), 0,
                            255).astype(np.uint8)
        return image


def _triangulate(points: NDArray[np.float64]) -> NDArray[np.int32]:
    subdiv = cv2.Subdiv2D((-1, -1, WIDTH + 2, HEIGHT + 2))
    index = {}
    for i, (x, y) in enumerate(points):
        clipped = (float(min(max(x, 0), WIDTH - 1)), float(min(max(y, 0), HEIGHT - 1)))
        subdiv.insert(clipped)
        index[(round(clipped[0], 3), round(clipped[1], 3))] = i
    triangles = []
    for t in subdiv.getTriangleList():
        keys = [(round(float(t[k]), 3), round(float(t[k + 1]), 3)) for k in (0, 2, 4)]
        if all(k in index for k in keys):
            triangles.append([index[k] for k in keys])
    return np.array(triangles, dtype=np.int32)


def warp(image: Image, source: NDArray[np.float64], target: NDArray[np.float64], triangles: NDArray[np.int32],
         depth: NDArray[np.float64], moving: int | None = None) -> Image:
    """Piecewise-affine warp: each triangle of ``source`` drawn at ``target``, far triangles first. Only
    the triangles with a vertex among the first ``moving`` points are warped (the others do not move),
    inside their bounding box."""
    height, width = image.shape[:2]
    if moving is not None:
        triangles = triangles[(triangles < moving).any(axis=1)]
    corners = np.vstack([source[triangles.ravel()], target[triangles.ravel()]])
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 2, 0, None)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 2, [width, height])
    label = np.zeros((y1 - y0, x1 - x0), np.int32)
    order = np.argsort(-depth[triangles].mean(axis=1))  # larger z is farther from the camera
    inverse = np.zeros((len(triangles) + 1, 2, 3))
    inverse[0] = [[1, 0, 0], [0, 1, 0]]
    for rank, t in enumerate(order, start=1):
        tri = triangles[t]
        inverse[rank] = cv2.getAffineTransform(target[tri].astype(np.float32), source[tri].astype(np.float32))
        cv2.fillConvexPoly(label, np.round((target[tri] - [x0, y0]) * 16).astype(np.int32), rank, lineType=cv2.LINE_8,
                           shift=4)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    m = inverse[label].astype(np.float32)
    map_x = m[..., 0, 0] * xs + m[..., 0, 1] * ys + m[..., 0, 2]
    map_y = m[..., 1, 0] * xs + m[..., 1, 1] * ys + m[..., 1, 2]
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


# Scripts: what the head does at time t (ms) --------------------------------------------------------

Script = Callable[[int], tuple[float, float, float]]  # t -> (yaw, pitch, blink)
TURN, LOOK_UP = 24.0, 16.0


def _bump(t: int, start: int, length: int) -> float:
    """0 → 1 → 0 over [start, start + length], smooth (a head turn, an eyelid closing)."""
    if not start <= t <= start + length:
        return 0.0
    return math.sin(math.pi * (t - start) / length) ** 2


def perform(challenge: Challenge, order: list[Action] | None = None, delay: int = 200) -> Script:
    """A learner doing the challenge's steps (or ``order``'s, in the steps' time slots)."""
    actions = order or [s.action for s in challenge.steps]

    def script(t: int) -> tuple[float, float, float]:
        yaw = pitch = blink = 0.0
        for step, action in zip(challenge.steps, actions, strict=True):
            start = step.at_ms + delay
            if action is Action.TURN_LEFT:
                yaw += TURN * _bump(t, start, 1000)
            elif action is Action.TURN_RIGHT:
                yaw -= TURN * _bump(t, start, 1000)
            elif action is Action.LOOK_UP:
                pitch += LOOK_UP * _bump(t, start, 1000)
            elif action is Action.BLINK:
                blink = max(blink, min(1.0, 1.6 * _bump(t, start + 200, 500)))
        return yaw, pitch, blink

    return script


def frame_times(challenge: Challenge, fps: int = FPS, tail_ms: int = 300) -> list[int]:
    return list(range(0, challenge.duration_ms + tail_ms, 1000 // fps))


def burst(scene: Scene, challenge: Challenge, script: Script, seed: int = 0, fps: int = FPS) -> list[Frame]:
    rng = np.random.default_rng(seed)
    frames = []
    for t in frame_times(challenge, fps):
        yaw, pitch, blink = script(t)
        shift = (float(rng.normal(0, 1.0)), float(rng.normal(0, 1.0)))
        frames.append((t, jpeg(scene.render(yaw, pitch, blink, shift, rng))))
    return frames


# Presentation attacks -----------------------------------------------------------------------------

def printed(photo: Image, rng: np.random.Generator) -> Image:
    """A print of the photo on a grey card, rotated 5°, slightly blurred, photographed (ISO/IEC
    30107-3's presentation attack instrument of the 'print' species)."""
    card = cv2.copyMakeBorder(photo, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=(150, 150, 150))
    centre = (card.shape[1] / 2, card.shape[0] / 2)
    rotated = cv2.warpAffine(card, cv2.getRotationMatrix2D(centre, 5, 1.0), (card.shape[1], card.shape[0]),
                             borderValue=(70, 70, 70))
    blurred = cv2.GaussianBlur(rotated, (5, 5), 1.2)
    toned = np.clip(blurred.astype(np.float32) * 0.85 + 20 + rng.normal(0, 3, blurred.shape), 0, 255)
    return decode(jpeg(place(toned.astype(np.uint8), 0.9, background=70), 80))


def on_screen(photo: Image) -> Image:
    """The photo shown on a screen and photographed: gamma, moiré and a glare spot."""
    frame = place(photo, 0.9, background=20).astype(np.float32) / 255
    frame = frame ** 0.8
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    moire = 0.06 * np.sin(xs * 0.9 + ys * 0.35) * np.sin(ys * 1.1)
    glare = 0.35 * np.exp(-(((xs - 420) / 90) ** 2 + ((ys - 140) / 60) ** 2))
    out = np.clip((frame + moire[..., None] + glare[..., None]) * 255, 0, 255).astype(np.uint8)
    return decode(jpeg(out, 85))


def tilt(image: Image, yaw: float, pitch: float = 0.0, shift: tuple[float, float] = (0, 0),
         distance: float = 1.6) -> Image:
    """A flat picture (print, screen) rotated in space about its centre and seen by a pinhole camera."""
    h, w = image.shape[:2]
    focal = float(w)
    k = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1.0]])
    a, b = math.radians(yaw), math.radians(pitch)
    rot = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]]) @ np.array(
        [[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    depth = distance * focal
    centre = np.array([0.0, 0.0, depth])
    homography = k @ (rot + np.outer(centre - rot @ centre, [0, 0, 1]) / depth) @ np.linalg.inv(k)
    homography = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1]]) @ homography
    return np.asarray(cv2.warpPerspective(image, homography, (w, h), borderMode=cv2.BORDER_REPLICATE), dtype=np.uint8)


def moved_picture(picture: Image, challenge: Challenge, seed: int = 0, gain: float = 1.4) -> list[Frame]:
    """The picture held up and tilted through the challenge as if it were the head: tilted to the side
    asked, tipped back for 'look up', wobbling a little all along."""
    rng = np.random.default_rng(seed)
    script = perform(challenge)
    frames = []
    for t in frame_times(challenge):
        yaw, pitch, _ = script(t)
        image = tilt(picture, -yaw * gain, pitch * gain, (float(rng.normal(0, 2)), float(rng.normal(0, 2))))
        noisy = np.clip(image.astype(np.int16) + rng.normal(0, 2.0, image.shape).astype(np.int16), 0, 255)
        frames.append((t, jpeg(noisy.astype(np.uint8))))
    return frames


def still(picture: Image, challenge: Challenge, noise: float = 0.0, seed: int = 0) -> list[Frame]:
    """The same picture in every frame (a file replayed), with optional sensor noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for t in frame_times(challenge):
        image = picture if noise == 0 else np.clip(picture.astype(np.int16) + rng.normal(0, noise, picture.shape)
                                                   .astype(np.int16), 0, 255).astype(np.uint8)
        frames.append((t, jpeg(image)))
    return frames


def shifted(picture: Image, challenge: Challenge) -> list[Frame]:
    """The picture slid across the frame during the burst (moved in its own plane)."""
    frames = []
    for i, t in enumerate(frame_times(challenge)):
        dx, dy = 40 * math.sin(i / 4), 15 * math.cos(i / 5)
        shift = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
        moved = np.asarray(cv2.warpAffine(picture, shift, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REPLICATE),
                           dtype=np.uint8)
        frames.append((t, jpeg(moved)))
    return frames


def _grid(nx: int = 25, ny: int = 19) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
    xs, ys = np.meshgrid(np.linspace(0, WIDTH - 1, nx), np.linspace(0, HEIGHT - 1, ny))
    points = np.column_stack([xs.ravel(), ys.ravel()])
    cells = [[j * nx + i, j * nx + i + 1, (j + 1) * nx + i] for j in range(ny - 1) for i in range(nx - 1)]
    cells += [[j * nx + i + 1, (j + 1) * nx + i + 1, (j + 1) * nx + i] for j in range(ny - 1) for i in range(nx - 1)]
    return points, np.array(cells, dtype=np.int32)


def bend(picture: Image, yaw: float, radius: float = 0.35, distance: float = 1.6) -> Image:
    """The picture bent round a vertical cylinder (its middle towards the camera, like a face), turned
    by ``yaw`` degrees and seen by a pinhole camera: the 'curved print' an attacker uses to fake depth."""
    source, cells = _grid()
    r = WIDTH * radius
    u = (source[:, 0] - WIDTH / 2) / r
    x, z, y = r * np.sin(u), r * (1 - np.cos(u)), source[:, 1] - HEIGHT / 2
    a = math.radians(yaw)
    xr, zr = x * math.cos(a) + z * math.sin(a), -x * math.sin(a) + z * math.cos(a)
    focal = float(WIDTH)
    depth = distance * focal + zr
    target = np.column_stack([WIDTH / 2 + focal * xr / depth, HEIGHT / 2 + focal * y / depth])
    return warp(picture, source, target, cells, zr)


def curved_picture(picture: Image, challenge: Challenge, seed: int = 0, gain: float = 2.0) -> list[Frame]:
    """A curved print turned to each side as the challenge asks (up to 48° for a 24° turn), held close
    enough that the face stays as large as a webcam face (the picture's middle zoomed 1.5 times)."""
    h, w = picture.shape[:2]
    crop = picture[round(h / 6):round(h * 5 / 6), round(w / 6):round(w * 5 / 6)]
    picture = np.asarray(cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
    rng = np.random.default_rng(seed)
    script = perform(challenge)
    frames = []
    for t in frame_times(challenge):
        yaw, _, _ = script(t)
        image = bend(picture, yaw * gain)
        noisy = np.clip(image.astype(np.int16) + rng.normal(0, 2.0, image.shape).astype(np.int16), 0, 255)
        frames.append((t, jpeg(noisy.astype(np.uint8))))
    return frames
