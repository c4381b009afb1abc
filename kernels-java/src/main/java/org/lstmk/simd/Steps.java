package org.lstmk.simd;

/**
 * The rows of a call's steps: uniform ({@code B} rows at every step, {@code batchSizes == null}) or packed (PyTorch's
 * {@code PackedSequence}: step {@code t} has the {@code size(t)} longest sequences, non-increasing, its rows right after
 * step {@code t−1}'s). Uniform is the special case {@code size(t) = B}; the passes only ever ask this class.
 *
 * <p>Where the passes keep the states of a call of {@code N = rows()} rows in the workspace:
 * <ul>
 *   <li>gate rows ({@code gates}, {@code da}), and the packed sequence buffers ({@code x, y, dy, dx}): row
 *       {@code offset(t) + r} for sequence {@code r} of step {@code t};</li>
 *   <li>state rows ({@code hs}, {@code cs}): the input of step {@code t} at the same row as its gates,
 *       {@code offset(t) + r} (rows {@code [0, B)}: the initial state), so that the weight gradient
 *       {@code dW_hh = Σ hᵀ·da} reads both operands row for row; the output of step {@code t} is the input of step
 *       {@code t+1} for the sequences that go on ({@code r < size(t+1)}), and goes to row {@code N + r} for the one
 *       that ends there ({@link #outRow}), so rows {@code [N, N+B)} are {@code h_T, c_T}. In a uniform call that
 *       is {@code (t+1)·B + r} for every output: the workspace layout of every uniform call.</li>
 * </ul>
 * The output of a step therefore lies in two pieces, each contiguous: the sequences that go on, rows
 * {@code [0, size(t+1))} at {@link #liveRow}, and those that end, rows {@code [size(t+1), size(t))} at {@code N + r}.
 * (With projection the cell outputs {@code m} lie instead at row {@code B + offset(t) + r}, like {@code y}.)
 */
final class Steps {
    final int steps, batch;
    /** Packed: {@code offsets[t] = Σ_{s<t} batchSizes[s]}, {@code T+1} of them; null when uniform. */
    private final int[] offsets;
    private final int rows;

    private Steps(int steps, int batch, int[] offsets) {
        this.steps = steps;
        this.batch = batch;
        this.offsets = offsets;
        this.rows = offsets == null ? steps * batch : offsets[steps];
    }

    static Steps uniform(int steps, int batch) {
        return new Steps(steps, batch, null);
    }

    /**
     * The steps of a call: uniform when {@code batchSizes} is null, else packed.
     *
     * @throws IllegalArgumentException when {@code batchSizes} is not a packed batch of {@code steps} steps of
     *                                  {@code batch} sequences
     */
    static Steps of(int steps, int batch, int[] batchSizes) {
        if (batchSizes == null) return uniform(steps, batch);
        if (batchSizes.length != steps || steps < 1 || batchSizes[0] != batch) {
            throw new IllegalArgumentException("packed batch sizes must be " + steps + " steps starting at the batch "
                    + batch + ", got " + batchSizes.length + " starting at " + (batchSizes.length > 0 ? batchSizes[0] : 0));
        }
        int[] offsets = new int[steps + 1];
        long o = 0;
        for (int t = 0; t < steps; t++) {
            int n = batchSizes[t];
            if (n < 1 || n > (t == 0 ? batch : batchSizes[t - 1])) {
                throw new IllegalArgumentException("packed batch sizes must be non-increasing and at least 1: step "
                        + t + " has " + n);
            }
            offsets[t] = (int) o;
            o += n;
        }
        offsets[steps] = (int) o;
        return new Steps(steps, batch, offsets);
    }

    boolean packed() { return offsets != null; }

    /** All rows of the call's sequence buffers, {@code Σ size(t)}. */
    int rows() { return rows; }

    /** Sequences live at step {@code t}; 0 from step {@code T} on. */
    int size(int t) {
        if (t >= steps) return 0;
        return offsets == null ? batch : offsets[t + 1] - offsets[t];
    }

    /** The first row of step {@code t} ({@code t <= T}). */
    int offset(int t) {
        return offsets == null ? t * batch : offsets[t];
    }

    /** The state row where step {@code t} writes the output of a sequence that goes on ({@code r < size(t+1)}). */
    int liveRow(int t) {
        return offset(t + 1);
    }

    /** The state row of the output of sequence {@code r} at step {@code t}. */
    int outRow(int t, int r) {
        return r < size(t + 1) ? offset(t + 1) + r : rows + r;
    }

    /** The first step at or after {@code t} whose first row is at least {@code rowsAhead} rows after step t's. */
    int stepAfterRows(int t, int rowsAhead) {
        if (offsets == null) return Math.min(steps, t + (rowsAhead + batch - 1) / batch);
        int target = offsets[t] + rowsAhead, s = t;
        while (s < steps && offsets[s] < target) s++;
        return s;
    }
}
