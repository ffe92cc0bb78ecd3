"""Training tests import diffusers and spandrel, which import torchvision: where its
compiled ops were built for another torch, import it the way training code does
(training/compat.py) before any test module's imports run."""

from training.compat import import_torchvision

import_torchvision()
