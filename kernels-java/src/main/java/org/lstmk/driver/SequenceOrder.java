package org.lstmk.driver;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.lstmk.api.SequenceBatch;

/**
 * The batch of one call sorted by decreasing length (stable), and its segments: maximal runs of steps in which the
 * same sequences are live. In sorted order the live sequences of step {@code τ} are always a prefix of the batch, so
 * a segment is a plain smaller batch of consecutive steps. Sequence {@code b}'s step {@code τ} is at time
 * {@code τ} forward, {@code len_b − 1 − τ} in reverse: in both directions every sequence starts at {@code τ = 0}.
 */
final class SequenceOrder {
    /** Steps {@code [from, to)} of the first {@code rows} sorted sequences. */
    record Segment(int from, int to, int rows) {
        int steps() { return to - from; }
    }

    final SequenceBatch batch;
    /** {@code order[r]}: the caller's batch index of sorted row {@code r}. */
    final int[] order;
    final List<Segment> segments;
    /** Whether sorted order is the caller's order and there is one segment of every step. */
    final boolean identity;

    SequenceOrder(SequenceBatch batch) {
        this.batch = batch;
        int n = batch.batch();
        Integer[] idx = new Integer[n];
        for (int b = 0; b < n; b++) idx[b] = b;
        Arrays.sort(idx, (p, q) -> Integer.compare(batch.length(q), batch.length(p)));   // stable: merge sort
        order = new int[n];
        for (int r = 0; r < n; r++) order[r] = idx[r];
        List<Segment> s = new ArrayList<>();
        int from = 0, rows = n;
        while (rows > 0) {
            int to = batch.length(order[rows - 1]);          // the shortest live sequence ends here
            s.add(new Segment(from, to, rows));
            from = to;
            while (rows > 0 && batch.length(order[rows - 1]) <= from) rows--;
        }
        segments = List.copyOf(s);
        identity = batch.uniform();
    }

    /**
     * PyTorch's {@code batch_sizes}: for each step {@code τ} up to the longest sequence, how many sorted rows are
     * live (a prefix). The layout of a packed call ({@code Calls.Sequences}).
     */
    int[] batchSizes() {
        int longest = batch.length(order[0]);
        int[] sizes = new int[longest];
        for (Segment s : segments) for (int t = s.from(); t < s.to(); t++) sizes[t] = s.rows();
        return sizes;
    }

    /** Time of step {@code tau} of sorted row {@code r}. */
    int time(int tau, int r, boolean reverse) {
        return reverse ? batch.length(order[r]) - 1 - tau : tau;
    }
}
