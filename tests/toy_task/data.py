"""Images of one bright square on dark noise, the square's mask as the target."""
import numpy as np


def bright_square(size: int, rng: np.random.Generator):
    """A dark noisy image with one bright square; the target is the square's mask."""
    img = rng.uniform(0.0, 0.35, (size, size, 3))
    mask = np.zeros((size, size), bool)
    s = int(rng.integers(size // 4, size // 2))
    y, x = rng.integers(0, size - s, 2)
    mask[y:y + s, x:x + s] = True
    img[mask] = rng.uniform(0.65, 1.0, (int(mask.sum()), 3))
    return (img * 255).round().astype(np.uint8), mask


class ToyDataset:
    def __init__(self, n: int, size: int, seed: int):
        self.n, self.size, self.seed = n, size, seed

    def __len__(self):
        return self.n

    def __getitem__(self, key):
        i = key[0] if isinstance(key, tuple) else int(key)
        img, mask = bright_square(self.size, np.random.default_rng([self.seed, i]))
        return {"image": img.transpose(2, 0, 1).astype(np.float32) / 255.0, "mask": mask.astype(np.float32),
                "name": f"toy{i}"}
