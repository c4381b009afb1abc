package org.lstmk.api;

import java.util.Arrays;

/**
 * The shape of one call's batch of sequences: {@code T} steps (the padded length of the buffers), {@code B}
 * sequences, and optionally each sequence's own length {@code 1 <= len[b] <= T}, in the caller's batch order (no
 * sorting needed). Follows PyTorch's {@code pack_padded_sequence → nn.LSTM → pad_packed_sequence}: outputs past a
 * sequence's length are exactly 0, its final state is the one after its last valid step, the reverse direction
 * starts at its own last valid step, inputs in the padding are never read and gradients there are exactly 0.
 * Padding costs no work. Immutable.
 */
public final class SequenceBatch {
    private final int steps;
    private final int batch;
    private final int[] lengths;   // null when every sequence has T steps

    private SequenceBatch(int steps, int batch, int[] lengths) {
        this.steps = steps;
        this.batch = batch;
        this.lengths = lengths;
    }

    /** {@code batch} sequences of {@code steps} steps each. */
    public static SequenceBatch of(int steps, int batch) {
        ArgumentChecks.positive("steps", steps);
        ArgumentChecks.positive("batch", batch);
        return new SequenceBatch(steps, batch, null);
    }

    /**
     * Sequences of the given lengths (copied) in buffers padded to {@code steps}; {@code B = lengths.length}.
     *
     * @throws IllegalArgumentException naming the first length outside {@code [1, steps]}
     */
    public static SequenceBatch of(int steps, int[] lengths) {
        ArgumentChecks.positive("steps", steps);
        if (lengths == null) throw new NullPointerException("lengths");
        ArgumentChecks.positive("batch (lengths.length)", lengths.length);
        int[] l = lengths.clone();
        boolean full = true;
        for (int b = 0; b < l.length; b++) {
            if (l[b] < 1 || l[b] > steps) {
                throw new IllegalArgumentException("lengths[" + b + "] must be in [1, steps=" + steps + "], got " + l[b]);
            }
            full &= l[b] == steps;
        }
        return new SequenceBatch(steps, l.length, full ? null : l);
    }

    /** {@code T}: steps of the (padded) buffers. */
    public int steps() { return steps; }

    /** {@code B}: number of sequences. */
    public int batch() { return batch; }

    /** Whether every sequence has {@code T} steps. */
    public boolean uniform() { return lengths == null; }

    /** Length of sequence {@code b}. */
    public int length(int b) {
        return lengths == null ? steps : lengths[b];
    }

    /** A copy of the lengths, or null when every sequence has {@code T} steps. */
    public int[] lengths() {
        return lengths == null ? null : lengths.clone();
    }

    /** Valid (non-padding) steps over the whole batch. */
    public long validSteps() {
        if (lengths == null) return (long) steps * batch;
        long s = 0;
        for (int l : lengths) s += l;
        return s;
    }

    @Override public boolean equals(Object o) {
        return o instanceof SequenceBatch s && s.steps == steps && s.batch == batch && Arrays.equals(s.lengths, lengths);
    }

    @Override public int hashCode() { return 31 * (31 * steps + batch) + Arrays.hashCode(lengths); }

    @Override public String toString() {
        return "SequenceBatch[T=" + steps + ", B=" + batch + (lengths == null ? "" : ", lengths=" + Arrays.toString(lengths)) + "]";
    }
}
