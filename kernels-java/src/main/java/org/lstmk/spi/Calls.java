package org.lstmk.spi;

import java.lang.foreign.MemorySegment;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmGradients;

/**
 * The validated arguments of each kernel entry point: one layer in one direction. Shapes use {@code T = steps},
 * {@code B = batch}, {@code I = config.inputSize()}, {@code H = config.hiddenSize()}, {@code H_out =
 * config.outputSize()} ({@code P} with projection); sequence buffers follow {@code config.layout()}. Components
 * documented as optional may be {@code null}.
 */
public final class Calls {
    private Calls() {}

    /**
     * Sequence forward.
     *
     * @param x         {@code [T,B,I]} input
     * @param h0        optional {@code [B,H_out]} initial hidden state (zeros if null)
     * @param c0        optional {@code [B,H]} initial cell state (zeros if null)
     * @param y         {@code [T,B,H_out]} output: the hidden state of every step (0 past a sequence's length)
     * @param hT        optional {@code [B,H_out]} final hidden state
     * @param cT        optional {@code [B,H]} final cell state
     * @param workspace null for inference; for training, where to save what backward needs
     *                  ({@code steps <= maxSteps}, {@code batch <= maxBatch} have been checked)
     * @param sequences how the {@code B} sequences are laid out in {@code x, y}: {@link Sequences#UNIFORM} (every one
     *                  T steps), padded with lengths (only for {@link LstmBackend#nativeSequences()}) or packed (only
     *                  for {@link LstmBackend#packedSequences()})
     */
    public record Forward(LstmConfig config, BackendWeights weights, int steps, int batch,
                          MemorySegment x, MemorySegment h0, MemorySegment c0,
                          MemorySegment y, MemorySegment hT, MemorySegment cT,
                          BackendWorkspace workspace, Sequences sequences) {
        public Forward {
            if (sequences == null) sequences = Sequences.UNIFORM;
        }

        /** Every sequence T steps long, forward in time. */
        public Forward(LstmConfig config, BackendWeights weights, int steps, int batch, MemorySegment x,
                       MemorySegment h0, MemorySegment c0, MemorySegment y, MemorySegment hT, MemorySegment cT,
                       BackendWorkspace workspace) {
            this(config, weights, steps, batch, x, h0, c0, y, hT, cT, workspace, Sequences.UNIFORM);
        }

        /** Padded lengths ({@link Sequences#lengths()}), or null. */
        public int[] lengths() { return sequences.lengths(); }

        /** Whether a padded call runs each sequence backwards ({@link Sequences#reverse()}). */
        public boolean reverse() { return sequences.reverse(); }

        /** Packed steps' batch sizes ({@link Sequences#batchSizes()}), or null. */
        public int[] batchSizes() { return sequences.batchSizes(); }
    }

    /**
     * How the sequences of a call lie in its sequence buffers.
     *
     * <ul>
     *   <li>{@link #UNIFORM}: {@code [T, B, ·]} in the configuration's layout, every sequence T steps.</li>
     *   <li><b>Padded</b> ({@code lengths != null}; backends with {@link LstmBackend#nativeSequences()}): the same
     *       buffers, sequence {@code b} valid for {@code lengths[b]} steps (caller's batch order), run backwards from
     *       its own last step when {@code reverse}; padding is never read and is written as 0.</li>
     *   <li><b>Packed</b> ({@code batchSizes != null}; backends with {@link LstmBackend#packedSequences()}; always
     *       time-major, forward in time): PyTorch's {@code PackedSequence}. The batch is sorted by decreasing length;
     *       step {@code t} has the {@code batchSizes[t]} longest sequences (non-increasing, {@code batchSizes[0] =
     *       B}, {@code T = batchSizes.length}), and its rows come right after step {@code t−1}'s: row {@code r} of
     *       step {@code t} is row {@code offset(t) + r} of {@code x, y, dy, dx} ({@code Σ batchSizes} rows in all).
     *       States are {@code [B, ·]} in sorted order; {@code hT, cT} (and {@code dhT, dcT}) belong to each
     *       sequence's own last step.</li>
     * </ul>
     *
     * @param lengths    padded: each sequence's length in {@code [1, T]}; else null
     * @param reverse    padded: whether each sequence runs from its last valid step down to 0
     * @param batchSizes packed: each step's number of sequences; else null
     */
    public record Sequences(int[] lengths, boolean reverse, int[] batchSizes) {
        public static final Sequences UNIFORM = new Sequences(null, false, null);

        public static Sequences padded(int[] lengths, boolean reverse) {
            return lengths == null && !reverse ? UNIFORM : new Sequences(lengths, reverse, null);
        }

        public static Sequences packed(int[] batchSizes) {
            return new Sequences(null, false, batchSizes);
        }

        /** Packed: the first row of step {@code t} ({@code Σ_{s<t} batchSizes[s]}). */
        public static long offset(int[] batchSizes, int t) {
            long o = 0;
            for (int s = 0; s < t; s++) o += batchSizes[s];
            return o;
        }
    }

    /**
     * Sequence backward (BPTT) over the last training forward saved in {@code workspace}, whose {@code steps},
     * {@code batch}, lengths, direction and weights these are.
     *
     * @param x          {@code [T,B,I]} the input of that forward, unchanged (a backend may keep its own copy from
     *                   the forward and use it when this is the same segment)
     * @param dy         {@code [T,B,H_out]} gradient of the loss with respect to {@code y} (null: zeros)
     * @param dhT        optional {@code [B,H_out]} gradient with respect to the final hidden state
     * @param dcT        optional {@code [B,H]} gradient with respect to the final cell state
     * @param dx         optional {@code [T,B,I]} gradient with respect to {@code x}
     * @param dh0        optional {@code [B,H_out]} gradient with respect to the initial hidden state
     * @param dc0        optional {@code [B,H]} gradient with respect to the initial cell state
     * @param gradients  optional weight gradients
     * @param accumulate add into {@code gradients} instead of overwriting them
     * @param sequences  as in {@link Forward}: those of the stored forward
     */
    public record Backward(LstmConfig config, BackendWeights weights, BackendWorkspace workspace, int steps, int batch,
                           MemorySegment x, MemorySegment dy, MemorySegment dhT, MemorySegment dcT,
                           MemorySegment dx, MemorySegment dh0, MemorySegment dc0,
                           LstmGradients gradients, boolean accumulate, Sequences sequences) {
        public Backward {
            if (sequences == null) sequences = Sequences.UNIFORM;
        }

        /** Every sequence T steps long, forward in time. */
        public Backward(LstmConfig config, BackendWeights weights, BackendWorkspace workspace, int steps, int batch,
                        MemorySegment x, MemorySegment dy, MemorySegment dhT, MemorySegment dcT,
                        MemorySegment dx, MemorySegment dh0, MemorySegment dc0,
                        LstmGradients gradients, boolean accumulate) {
            this(config, weights, workspace, steps, batch, x, dy, dhT, dcT, dx, dh0, dc0, gradients, accumulate,
                    Sequences.UNIFORM);
        }

        public int[] lengths() { return sequences.lengths(); }

        public boolean reverse() { return sequences.reverse(); }

        public int[] batchSizes() { return sequences.batchSizes(); }
    }

    /**
     * One timestep forward.
     *
     * @param x     {@code [B,I]}
     * @param h     optional {@code [B,H_out]} previous hidden state
     * @param c     optional {@code [B,H]} previous cell state
     * @param hNext {@code [B,H_out]} new hidden state
     * @param cNext {@code [B,H]} new cell state
     * @param gates optional {@code [B,4H]} gate activations {@code i,f,g,o} (after sigmoid/tanh, PyTorch order,
     *              row {@code b} holds {@code i[0..H), f[0..H), g[0..H), o[0..H)}) saved for {@link CellBackward}.
     *              With a cell clip, a clamped gate holds exactly the activation of {@code ±clip} as
     *              {@code org.lstmk.reference.CellMath} defines it, which is how backward knows it was clamped.
     */
    public record CellForward(LstmConfig config, BackendWeights weights, int batch,
                              MemorySegment x, MemorySegment h, MemorySegment c,
                              MemorySegment hNext, MemorySegment cNext, MemorySegment gates) {}

    /**
     * One timestep backward.
     *
     * @param x          {@code [B,I]} the step's input
     * @param h          optional {@code [B,H_out]} the step's previous hidden state (zeros if null)
     * @param c          optional {@code [B,H]} the step's previous cell state (zeros if null)
     * @param gates      {@code [B,4H]} activations saved by {@link CellForward}
     * @param dhNext     optional {@code [B,H_out]} gradient with respect to the new hidden state
     * @param dcNext     optional {@code [B,H]} gradient with respect to the new cell state
     * @param dx         optional {@code [B,I]}
     * @param dh         optional {@code [B,H_out]} gradient with respect to the previous hidden state
     * @param dc         optional {@code [B,H]} gradient with respect to the previous cell state
     * @param gradients  optional weight gradients
     * @param accumulate add into {@code gradients} instead of overwriting them
     */
    public record CellBackward(LstmConfig config, BackendWeights weights, int batch,
                               MemorySegment x, MemorySegment h, MemorySegment c, MemorySegment gates,
                               MemorySegment dhNext, MemorySegment dcNext,
                               MemorySegment dx, MemorySegment dh, MemorySegment dc,
                               LstmGradients gradients, boolean accumulate) {}
}
