"""A one-line training progress bar on stderr: epoch, loss and epochs per second."""
import sys
import time


class ProgressBar:
    """Redraw one status line with a carriage return, at most ``refresh_hz`` times per second.

    The bar is silent unless ``enabled`` is true and ``stream`` is a terminal, so
    logs and CI output never fill with carriage returns.
    """

    def __init__(self, total, enabled=True, stream=None, width=24, refresh_hz=10.0):
        self.total = max(int(total), 1)
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(enabled) and callable(isatty) and isatty()
        self.width = width
        self.interval = 1.0 / refresh_hz
        self.start = time.perf_counter()
        self.last_draw = float("-inf")
        self.drawn = False

    def render(self, epoch, loss, elapsed):
        """Return the status line for ``epoch`` (1-based) and ``loss`` after ``elapsed`` seconds."""
        filled = int(self.width * epoch / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        rate = epoch / elapsed if elapsed > 0 else 0.0
        return f"[{bar}] epoch {epoch}/{self.total}  loss {loss:.5g}  {rate:.1f} epochs/s"

    def update(self, epoch, loss):
        """Draw the line for ``epoch`` unless the last draw was too recent (the final epoch always draws)."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last_draw < self.interval and epoch < self.total:
            return
        self.last_draw = now
        self.stream.write("\r" + self.render(epoch, loss, now - self.start))
        self.stream.flush()
        self.drawn = True

    def close(self):
        """End the status line with a newline if anything was drawn."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
