"""``Model``: Keras's compile/fit/evaluate/predict around any ``torch.nn.Module``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from lstmkit.layers.base import Layer
from lstmkit.layers.recurrent import Recurrent
from lstmkit.layers.windows import TooFewStepsError
from lstmkit.models import training
from lstmkit.models.callbacks.base import Callback, CallbackList, History, check_callbacks
from lstmkit.models.data import (
    ArraySource,
    EpochFeed,
    check_steps_per_epoch,
    iterate,
    make_source,
    num_batches,
    one_batch,
    require_splittable,
    require_targets,
    sample_of,
    to_tensor,
    validation_sources,
)
from lstmkit.models.distributed import Distributed
from lstmkit.models.losses import LossFn, get_loss, is_builtin, probabilities_for
from lstmkit.models.metrics import Metric, get_metric
from lstmkit.models.model_io import ModelIO
from lstmkit.models.optimizers import OptimizerSpec, build_optimizer, get_optimizer
from lstmkit.models.progress import ProgbarLogger, check_verbose
from lstmkit.ops.dispatch import is_exporting
from lstmkit.utils.validation import check_positive_int

Probe = TypeVar("Probe")
Ran = TypeVar("Ran")

PROBE_STEPS = ((32, 48), (256, 384), (2048, 3072))
"""The lengths a ``Sequential`` declared for inputs of any length (``input_shape=(None, F)``) is built on,
zeros: each pair in turn until no convolution or pooling window (or stack of them) is longer than the
input, the model run twice so that ``summary()`` prints ``None`` for every output axis that follows the
length, as Keras does. ``Model.build`` tries 2 steps first, then the first of each pair."""


def probe_dims(input_shape: Sequence[int | None], steps: int) -> list[int]:
    """``input_shape`` with a batch of 2 and ``steps`` for every other ``None``.

    Raises:
        TypeError: ``input_shape`` is not a tuple or list, or an entry is neither ``None`` nor an int.
        ValueError: an entry below 1.
    """
    if not isinstance(input_shape, tuple | list) or not input_shape:
        raise TypeError(f"build expects input_shape as a tuple like (None, 100, 1), got {input_shape!r}")
    return [
        (2 if i == 0 else steps) if d is None else check_positive_int(f"build input_shape[{i}]", d)
        for i, d in enumerate(input_shape)
    ]


def probe_until_fits(
    input_shape: Sequence[Any], attempts: Sequence[Probe], run: Callable[[Probe], Ran]
) -> Ran:
    """``run(attempt)`` for each attempt in turn until no window is longer than the input (any other error
    at once); for an ``input_shape`` with a fixed length, the first attempt only."""
    free = any(d is None for d in list(input_shape)[1:])
    tries = attempts if free else attempts[:1]
    for k, attempt in enumerate(tries):
        try:
            return run(attempt)
        except TooFewStepsError:  # a window longer than the probe: a longer one
            if k == len(tries) - 1:
                raise
    raise AssertionError("no attempt to probe with")


class Model(ModelIO, nn.Module):
    """A trainable model: wraps any ``torch.nn.Module`` (``model.module``) with Keras's training API.

    Weights in Keras's layout, ``summary``, saving and ONNX export come from
    :class:`~lstmkit.models.model_io.ModelIO`.

    Args:
        module: the network; its ``forward(x)`` returns one tensor. ``None`` is for subclasses
            (``Sequential`` builds its own).
        name: a name for summaries.

    Example:
        >>> import numpy as np
        >>> model = Model(torch.nn.Linear(3, 1))
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> history = model.fit(np.ones((8, 3)), np.zeros((8, 1)), epochs=2, batch_size=4, verbose=0)
        >>> len(history.history["loss"]), model.predict(np.ones((2, 3))).shape
        (2, (2, 1))
        >>> model(np.ones((2, 3))).shape  # arrays are converted, as Keras does
        torch.Size([2, 1])
    """

    def __init__(self, module: nn.Module | None = None, *, name: str = "model") -> None:
        super().__init__()
        if module is not None and not isinstance(module, nn.Module):
            raise TypeError(f"Model wraps a torch.nn.Module, got {type(module).__name__}")
        self.module = module if module is not None else nn.Identity()
        self.name = name
        self.optimizer: torch.optim.Optimizer | None = None
        self.optimizer_spec: OptimizerSpec | torch.optim.Optimizer | None = None
        self.loss_name: str | None = None
        self.loss_builtin = False
        # what the metrics see of the outputs: the probabilities, for a loss on logits (losses.PROBABILITIES)
        self.metric_inputs: Callable[[Tensor], Tensor] | None = None
        self.loss_fn: LossFn | None = None
        self.metrics: list[Metric] = []
        self.clipnorm: float | None = None
        self.clipvalue: float | None = None
        self.device = torch.device("cpu")
        self.amp = False
        self.scaler = torch.amp.GradScaler("cpu", enabled=False)
        self.stop_training = False
        self.history: History | None = None
        self.distributed = Distributed()
        self.train_module: nn.Module = self.module
        self.resume_epoch: int | None = None  # set by BackupAndRestore
        # the first input's shape (batch excluded) and dtype: saved with a custom module, whose lazy layers
        # load_model builds from zeros of that shape before loading the weights
        self.input_signature: tuple[tuple[int, ...], torch.dtype] | None = None

    def forward(self, x: Any) -> Any:
        """The network's output for ``x``, in the module's current mode (torch's ``train()``/``eval()``;
        ``predict`` always runs in eval mode). Arrays (NumPy, lists, pandas) are converted as Keras
        converts them: floats to the weights' dtype, integers kept (as token ids), on the weights' device.
        """
        if not isinstance(x, Tensor):
            x = training.model_inputs(self, to_tensor("x", x))
        self._note_input(x)
        return self.module(x)

    def _note_input(self, x: Tensor) -> None:
        if torch.jit.is_tracing() or is_exporting():  # (sizes are then symbolic or traced values)
            return
        if self.input_signature is None and x.dim() > 0:
            self.input_signature = (tuple(x.shape[1:]), x.dtype)

    @property
    def world(self) -> int:
        return self.distributed.world

    @property
    def is_chief(self) -> bool:
        """True on the process that logs and writes files (rank 0)."""
        return self.distributed.rank == 0

    # -- configuration ------------------------------------------------------------------------------------
    def compile(  # nn.Module.compile is torch.compile; this is Keras's
        self,
        optimizer: str | OptimizerSpec | torch.optim.Optimizer | type[torch.optim.Optimizer] = "rmsprop",
        loss: str | LossFn | None = None,
        metrics: Sequence[str | Metric] | None = None,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        device: str | torch.device | None = None,
        amp: bool | None = None,
    ) -> None:
        """Configure training (Keras's argument order: optimizer, loss, metrics).

        Args:
            optimizer: ``'adam'``, ``'adamw'``, ``'sgd'``, ``'rmsprop'``, ``'adagrad'`` (Keras defaults),
                an ``lstmkit.models.optimizers.Adam(learning_rate=...)`` spec, a torch optimizer class or
                instance.
            loss: a Keras loss name: ``'mse'``/``'mean_squared_error'``, ``'mae'``, ``'mape'``, ``'msle'``,
                ``'huber'``, ``'log_cosh'``, ``'cosine_similarity'``, ``'poisson'``, ``'kl_divergence'``,
                ``'hinge'``, ``'squared_hinge'``, ``'binary_crossentropy'``, ``'categorical_crossentropy'``,
                ``'sparse_categorical_crossentropy'``; a spec from :mod:`lstmkit.models.losses`
                (``BinaryCrossentropy(from_logits=True, label_smoothing=0.1)``, ``Huber(delta=2.0)``); or a
                callable ``loss(y_pred, y_true)`` (PyTorch's argument order) returning per-sample values or
                a scalar. A masked sequence output's loss is the sum over its valid steps divided by their
                number in the batch (Keras 3's reduction; see :mod:`lstmkit.models.training`).
            metrics: names among ``'accuracy'``, ``'binary_accuracy'``, ``'mae'``, ``'mse'``, ``'mape'``,
                ``'msle'``, ``'log_cosh_error'``, ``'cosine_similarity'``, ``'poisson'``,
                ``'kl_divergence'``, ``'hinge'``, ``'squared_hinge'``, ``'auc'``, ``'precision'``,
                ``'recall'`` (Keras 3's names; History shows each under the name given).
            clipnorm: clip the global gradient norm to this value before each step.
            clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
            device: ``'cpu'`` (default), ``'cuda'``, ``'cuda:1'``, or ``'auto'`` (CUDA when available).
            amp: automatic mixed precision. On CUDA float16 autocast with loss scaling (default on); on
                CPU bfloat16 autocast (default off): the LSTM layers' native kernel then multiplies in
                bfloat16 with float32 sums where the CPU has AVX512-BF16 (docs/native.md), and stays
                float32 elsewhere.

        Raises:
            ValueError: unknown loss/optimizer/metric name (the message lists the valid ones).
        """
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse' or loss='binary_crossentropy'")
        loss_name, loss_fn = get_loss(loss)
        optimizer_spec = get_optimizer(optimizer)
        if metrics is not None and (isinstance(metrics, str) or not isinstance(metrics, Iterable)):
            raise TypeError(f"metrics must be a list, e.g. metrics=['accuracy'], got {metrics!r}")
        metric_objects = [get_metric(m) for m in metrics or []]
        for name, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue)):
            if value is not None and (not isinstance(value, int | float) or not value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        target = torch.device(device) if device is not None else self.device
        if target.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was asked for but CUDA is not available; use device='cpu'")
        if amp is not None and not isinstance(amp, bool):
            raise TypeError(f"amp must be True, False or None, got {amp!r}")
        use_amp = target.type == "cuda" if amp is None else amp
        # everything is valid: configure
        self.loss_name, self.loss_fn = loss_name, loss_fn
        self.loss_builtin = is_builtin(loss)  # a file can name it (save/load_model)
        # a spec, or our own function by identity: a callable of the user's that shares the name is not ours
        self.metric_inputs = probabilities_for(loss)
        self.optimizer_spec = optimizer_spec
        self.optimizer = optimizer_spec if isinstance(optimizer_spec, torch.optim.Optimizer) else None
        self.metrics = metric_objects
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.device, self.amp = target, use_amp
        # float16 needs its loss scaled; bfloat16 (CPU autocast) has float32's range and needs none
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp and self.device.type == "cuda")
        self.module.to(self.device)

    @property
    def compiled(self) -> bool:
        return self.loss_fn is not None

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"call compile(optimizer=..., loss=...) before {what}()")

    # -- building -----------------------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return all(layer.built for layer in self.module.modules() if isinstance(layer, Layer))

    def build(self, input_shape: Sequence[int | None]) -> None:
        """Create the weights for inputs of ``input_shape``, batch dimension included: ``(None, 100, 1)``;
        ``None`` steps are built on :data:`PROBE_STEPS`."""
        noted = self.input_signature

        def run(steps: int) -> None:
            try:
                self._build_from(torch.zeros(probe_dims(input_shape, steps), dtype=self._input_dtype()))
            except TooFewStepsError:
                self.input_signature = noted  # (the failed probe's shape is not one to save)
                raise

        # 2 steps first: a module may cap the length
        probe_until_fits(input_shape, (2, *(pair[0] for pair in PROBE_STEPS)), run)

    def _input_dtype(self) -> torch.dtype:
        first = next((m for m in self.module.modules() if isinstance(m, Layer)), None)
        return first.input_dtype if first is not None else torch.float32

    def _build_from(self, sample: Tensor) -> None:
        """Run a sample through the network in eval mode so that lazy layers create their weights."""
        self._note_input(sample)
        if self.built:
            return
        was_training = self.module.training
        self.module.eval()
        try:
            with torch.no_grad():
                self.module(sample[:2].to(self.device))
        finally:
            self.module.train(was_training)
        self.module.to(self.device)
        self.reset_states()

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(
                f"model '{self.name}' is not built yet, so it has no weights to {what} with; train it with "
                f"fit(), call build(input_shape), or give the first layer input_shape=..."
            )

    def reset_states(self) -> None:
        """Forget the state of every stateful recurrent layer."""
        for layer in self.module.modules():
            if isinstance(layer, Recurrent):
                layer.reset_states()

    def _prepare(self, source: ArraySource | DataLoader[Any]) -> None:
        self._build_from(sample_of(source))
        if self.optimizer is None:
            assert isinstance(self.optimizer_spec, OptimizerSpec)
            self.optimizer = build_optimizer(self.optimizer_spec, self.module)

    # -- training -----------------------------------------------------------------------------------------
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = 1,
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        class_weight: Mapping[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        *,
        validation_freq: int | Sequence[int] = 1,
        distributed: bool = False,
    ) -> History:
        """Train for ``epochs`` epochs and return the :class:`History` of per-epoch logs.

        Args:
            x: inputs (NumPy, tensor, pandas, list), a map-style ``Dataset`` yielding ``(x, y[, w])``, or a
                ``DataLoader`` (then ``batch_size`` and ``shuffle`` are the loader's; not distributed).
            y: targets, as many as ``x`` has samples.
            batch_size: samples per step (default 32); in distributed training, the global batch.
            epochs: index of the last epoch (Keras semantics with ``initial_epoch``).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch (on stderr); ``'auto'`` is 1.
            callbacks: :mod:`lstmkit.models.callbacks` instances.
            validation_split: fraction of the samples, taken from the end before shuffling, to validate on.
            validation_data: ``(x_val, y_val)``, ``(x_val, y_val, w_val)``, a Dataset or a DataLoader (not
                in distributed training).
            shuffle: reshuffle the training samples every epoch.
            class_weight: ``{class id: weight}`` multiplying each sample's loss.
            sample_weight: one weight per sample.
            initial_epoch: epoch to start from (to continue an earlier run).
            steps_per_epoch: batches per epoch (default: one pass over the data). The data continues across
                epochs, as Keras 3: each epoch goes on where the last stopped, a finished pass starts the next
                (reshuffled). At most the batches of one pass for data with a length; for a loader without
                one it delimits the epochs, and training stops with a warning when the loader runs out.
            validation_freq: validate every ``N`` epochs (an int), or after the epochs listed (counted from
                1: ``[1, 5, 10]``); the other epochs have no ``val_*`` logs.
            distributed: data-parallel training with DDP under ``torchrun``.

        Raises:
            ValueError: mismatched x/y lengths, NaN/inf in the data, a wrong input shape, bad arguments.
        """
        self._require_compiled("fit")
        batch_size = check_positive_int("batch_size", 32 if batch_size is None else batch_size)
        epochs = check_positive_int("epochs", epochs, minimum=0)
        initial_epoch = check_positive_int("initial_epoch", initial_epoch, minimum=0)
        validation_freq = training.check_validation_freq(validation_freq)
        verbose = check_verbose(verbose)
        class_weight = training.check_class_weight(class_weight)
        callbacks = check_callbacks(callbacks)
        source = make_source(x, y, sample_weight)
        require_targets(source, "fit")
        source, val_source = validation_sources(source, validation_split, validation_data)
        steps_per_epoch = check_steps_per_epoch(steps_per_epoch, num_batches(source, batch_size))
        if val_source is not None:
            require_targets(val_source, "validation_data")
        if distributed:  # before joining the process group and training an epoch
            require_splittable(source, "x")
            require_splittable(val_source, "validation_data")
        self.distributed = Distributed.setup(self.device) if distributed else Distributed()
        try:
            if distributed:
                self.device = Distributed.local_device(self.device)
                self.module.to(self.device)
            self._prepare(source)
            self.distributed.broadcast_module(self.module)
            self.train_module = self.distributed.wrap(self.module, self.device)
            steps = steps_per_epoch or num_batches(source, batch_size)
            self.history = History()
            extra = [ProgbarLogger(verbose, epochs, steps)] if verbose else []
            cbs = CallbackList([*callbacks, self.history, *extra], self)  # History sees final logs
            cbs.set_params({"verbose": verbose, "epochs": epochs, "steps": steps})
            self.stop_training, self.resume_epoch = False, None
            cbs.on_train_begin()
            start = max(initial_epoch, self.resume_epoch or 0)
            logs: dict[str, float] = {}
            rank, world = self.distributed.rank, self.world
            feed = EpochFeed(
                source,
                batch_size,
                steps_per_epoch,
                shuffle=shuffle,
                rank=rank,
                world=world,
                generator=self._shuffle_generator,
            )
            for epoch in range(start, epochs):
                if feed.exhausted():  # a loader without a length ran out (the feed warned)
                    break
                cbs.on_epoch_begin(epoch)
                logs = training.run_epoch(self, feed.epoch(), callbacks=cbs, class_weight=class_weight)
                if val_source is not None and training.should_validate(epoch, validation_freq):
                    val_batches = iterate(val_source, batch_size, shuffle=False, rank=rank, world=world)
                    logs.update(training.evaluate_batches(self, val_batches, prefix="val_"))
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            cbs.on_train_end(logs)
        finally:  # back to one process (the rank is kept: is_chief still names the one writer of files)
            self.distributed = Distributed(rank=self.distributed.rank)
            self.train_module = self.module
            self.eval()  # model(x) after fit is inference (no dropout), as Keras's call
        return self.history

    def _shuffle_generator(self) -> torch.Generator:
        """A generator for one epoch's shuffle, seeded alike on every rank: the seed is drawn from torch's
        global generator (so ``set_seed`` makes it repeat, and BackupAndRestore's restored state resumes it)
        and rank 0's draw is shared, as the ranks' global generators drift apart with dropout."""
        seed = int(torch.randint(2**62, ()).item())
        return torch.Generator().manual_seed(self.distributed.shared_seed(seed))

    def train_on_batch(
        self,
        x: Any,
        y: Any,
        sample_weight: Any = None,
        class_weight: Mapping[int, float] | None = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """One optimizer step on exactly this batch; returns the loss (and metrics, as Keras)."""
        self._require_compiled("train_on_batch")
        source = one_batch(make_source(x, y, sample_weight), "train_on_batch", "fit")
        require_targets(source, "train_on_batch")
        self._prepare(source)
        batch = next(iterate(source, len(source), shuffle=False))
        acc = training.Accumulator(self)
        self.module.train()
        try:
            part = training.train_batch(self, self.module, batch, training.check_class_weight(class_weight))
        finally:
            self.eval()  # as after fit: model(x) is inference
        acc.add(part.epoch_share(batch.global_size), len(source), part.y_pred, batch.y, part.mask)
        return self._format(acc.logs(), return_dict)

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = 0,
        sample_weight: Any = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """Loss (and metrics) on the given data: a float, ``[loss, *metrics]``, or a dict."""
        self._require_compiled("evaluate")
        self._require_built("evaluate")
        check_verbose(verbose)
        batch_size = check_positive_int("batch_size", 32 if batch_size is None else batch_size)
        return self._evaluate(make_source(x, y, sample_weight), batch_size, "evaluate", return_dict)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> float | list[float] | dict[str, float]:
        """Loss (and metrics) on exactly this batch, in eval mode; returns as :meth:`evaluate` does."""
        self._require_compiled("test_on_batch")
        self._require_built("test_on_batch")
        source = one_batch(make_source(x, y, sample_weight), "test_on_batch", "evaluate")
        return self._evaluate(source, len(source), "test_on_batch", return_dict)

    def _evaluate(
        self, source: ArraySource | DataLoader[Any], batch_size: int, what: str, return_dict: bool
    ) -> float | list[float] | dict[str, float]:
        require_targets(source, what)
        logs = training.evaluate_batches(self, iterate(source, batch_size, shuffle=False))
        return self._format(logs, return_dict)

    def _format(self, logs: dict[str, float], return_dict: bool) -> float | list[float] | dict[str, float]:
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = 0) -> np.ndarray:
        """Outputs for ``x`` as a NumPy array, computed in batches in eval mode."""
        self._require_built("predict")
        check_verbose(verbose)
        batch_size = check_positive_int("batch_size", 32 if batch_size is None else batch_size)
        source = make_source(x)
        return training.predict_batches(self, source, batch_size).numpy()

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """Outputs for exactly this batch as a NumPy array, in eval mode (as :meth:`predict`)."""
        self._require_built("predict_on_batch")
        source = one_batch(make_source(x), "predict_on_batch", "predict")
        return training.predict_batches(self, source, len(source)).numpy()
