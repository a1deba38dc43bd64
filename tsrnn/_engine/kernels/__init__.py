"""Numba kernels: pure numeric functions, no pandas, no scikit-learn.

Modules: ``rnn``, ``lstm``, ``gru`` (one layer of each cell, its equations in
its docstring), ``common`` (activations, projections, the BPTT carry),
``losses``, ``optim`` (fused optimizer steps), ``drivers`` (the network over
batch chunks), ``sync`` (the thread pool's spin-waits).

Legend of the drivers' arguments
--------------------------------
One entry point per cell, ``<cell>_run(args)`` (``drivers.RUN``), for
training and prediction alike, so that each cell and dtype compiles once;
``args`` is the tuple ``(X, E, groups, Y, sw, theta, offs, L, H, relu, masks,
seq, trunc, code, qs, delta, scale, n_chunks, c0, c1, work, gbuf, lbuf, dX,
grad, out, mode, sync, sync_value, n_wait, lens, h0, c0, hN, cN, dh0, dc0,
stepw, ghN, gcN)``:

=========  ==================================================================
X          (n, T, C) inputs, C-contiguous, the parameters' dtype.
E          (n_groups, D) embedding table (a view into ``theta``); (0, 0) for none.
groups     (n,) int64 row of ``E`` fed to each sample as D more input
           channels at every step; empty without an embedding.
Y          (n, T or 1, K) targets (class index for cross-entropy).
sw         (n,) sample weights.
theta      flat parameters, PyTorch's state-dict order: per layer
           ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``; then
           ``head.weight``, ``head.bias``; then ``embedding.weight`` if any.
offs       (n_arrays + 1,) int64 start of each array in ``theta``.
L, H       layers, hidden units per layer.
relu       the Elman cell's activation is relu (else tanh); other cells ignore it.
masks      (L - 1, n, T, H) inverted-dropout multipliers between layers, or
           (0, 0, 0, 0) for none.
seq        many-to-many: the head (and the loss) at every step.
trunc      truncated BPTT: the state is detached every ``trunc`` steps,
           counted back from each sequence's last (> T: no truncation).
code       loss code (``losses.CODES``); ``qs`` quantile levels; ``delta``
           the Huber threshold; ``scale`` the normaliser of the gradient.
n_chunks   chunks the batch is cut into; ``c0 .. c1 - 1`` the ones to run.
work       1-D scratch of ``scratch_size(...)`` elements, this call's own.
gbuf       (n_chunks, n_params) per-chunk gradients; ``lbuf`` (n_chunks,)
           float64 per-chunk loss sums.
dX         (n, T, C + D) input gradient, or (0, T, C + D) when not wanted.
grad       (n_params,) out (``TRAIN_REDUCE``): the chunk-order sum of ``gbuf``.
out        (n, T or 1, O) head outputs (``PREDICT``).
mode       ``PREDICT`` (forward and head into ``out``; the training arrays
           are empty), ``TRAIN`` (loss and gradient of the chunks),
           ``TRAIN_REDUCE`` (the same, then the sum; returns the loss sum) or
           ``REDUCE`` (only the sum, after threads ran the chunks).
sync       (k,) int64: the thread pool's flags; ``sync[0] = sync_value`` is
           stored first (the call that sets the pool's workers going; see
           ``threads.py``); empty for none.
n_wait     workers to wait for at the end (``sync[1 + w] == sync_value``)
           before the sum. Every call returns ``(loss sum or 0.0, True)``, or
           ``(0.0, False)`` when the workers took too long (Python then waits).
lens       (n,) int64 sequence lengths (1..T) of a variable-length batch, the
           steps after each zero-padded; empty: every sequence has T steps.
           A chunk runs to its longest sequence; a finished sequence's state
           is held to the end, its padded steps take no loss and no gradient.
h0, c0     (L, n, H) the state before step 0 (``c0``: LSTM); empty: zero.
hN, cN     (L, n, H) out: the state after each sequence's last step; empty:
           not wanted.
dh0, dc0   (L, n, H) out (training): the loss gradient of ``h0``/``c0``;
           empty: not wanted.
stepw      (n, T) per-step loss weights of a many-to-many loss (times
           ``sw``); empty: all 1.
ghN, gcN   (L, n, H) a gradient of the final state from outside (training,
           fixed-length batches): it enters each layer's BPTT at the last
           step; empty: none.
=========  ==================================================================

Calling convention of a cell's layer functions
----------------------------------------------
``forward(xin, w_ih, w_hh, b_ih, b_hh, gates, hs, cs, aux, gh, relu, ln,
warm)`` and ``backward(dh, w_hh, gates, hs, cs, aux, dgx, dgh, dhn, dcn, dtmp,
trunc, relu, ln, to_h0)``, all buffers time-major: ``xin`` (T*m, D) the
layer's input; ``gates`` (T, m, G) the activated gates; ``hs`` (T+1, m, H) the
hidden states with ``hs[0]`` the initial state (``warm``: not all zero);
``ln`` the chunk's lengths (see ``lens``); ``to_h0``: leave the gradient of
the initial state in ``dhn``/``dcn``, which hold on entry the gradient carried
into the last step from outside (``ghN``/``gcN``, else zero); ``cs`` (T+1, m, H) the LSTM's cell states; ``aux`` (T, m, H)
what the cell's backward pass needs besides (see each cell); ``gh`` (m, G)
the recurrent projection of one step; ``dh`` (T, m, H) the gradient reaching
each step's output from above; ``dgx``/``dgh`` (T, m, G) the pre-activation
gradients on the input and recurrent side; ``dhn``/``dcn``/``dtmp`` (m, H)
the gradients carried to the previous step and a cell's own scratch.
"""
