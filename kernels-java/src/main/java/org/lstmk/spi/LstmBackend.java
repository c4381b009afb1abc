package org.lstmk.spi;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;

/**
 * The kernels of one backend. Every call has been validated by the public API before it arrives: sizes are at
 * least what the shapes need, segments are alive and aligned to 4 bytes, outputs are writable and no output
 * overlaps any other argument. Optional arguments are {@code null} (an input that is zero, an output not wanted).
 *
 * <p>Every call is for one layer in one direction: {@code config} is that layer's ({@link LstmConfig#layer}), with
 * its cell features (projection, peepholes, clip). Stacks and directions are walked by the layer driver above.
 *
 * <p>An instance serves one engine and is used by one thread at a time; kernels may use more threads inside a call.
 */
public interface LstmBackend extends AutoCloseable {
    /** The provider's name. */
    String name();

    /**
     * Whether {@link #forward} and {@link #backward} honour {@link Calls.Forward#lengths()} and
     * {@link Calls.Forward#reverse()} themselves. When false (the default) the layer driver only ever passes
     * {@code lengths == null, reverse == false}, and builds variable lengths and the reverse direction from such
     * calls (sorting, segmenting and reversing the batch).
     */
    default boolean nativeSequences() { return false; }

    /**
     * Whether {@link #forward} and {@link #backward} take packed sequences ({@link Calls.Sequences}: PyTorch's
     * {@code PackedSequence}, {@link Calls.Forward#batchSizes()}), the way a backend runs variable lengths with no
     * work in the padding and one call per layer-direction. The layer driver sorts, packs and (for the reverse
     * direction) time-reverses for it. When neither this nor {@link #nativeSequences()} holds, the driver runs each
     * stretch of steps with a constant number of live sequences as its own call.
     */
    default boolean packedSequences() { return false; }

    /**
     * {@code bytes} of host memory, zeroed and 64-byte aligned, that this backend copies fastest, freed when
     * {@code arena} closes (valid until then even if the backend closes first). Default: ordinary memory of
     * {@code arena}; a GPU backend hands out pinned memory, which its copies reach directly.
     */
    default MemorySegment allocateHost(long bytes, Arena arena) {
        if (bytes < 0) throw new IllegalArgumentException("bytes: negative (" + bytes + ")");
        return arena.allocate(bytes, 64);
    }

    /** Converts weights once into this backend's layout; the result does not alias {@code weights}. */
    BackendWeights pack(LstmConfig config, LstmWeights weights);

    /** A workspace for forward training of up to {@code maxSteps} timesteps of {@code maxBatch} sequences. */
    BackendWorkspace newWorkspace(LstmConfig config, int maxSteps, int maxBatch);

    /** Sequence forward; saves what backward needs into {@code call.workspace()} when it is not null (training). */
    void forward(Calls.Forward call);

    /** Sequence backward over what the last training forward on {@code call.workspace()} saved. */
    void backward(Calls.Backward call);

    /** One timestep forward, optionally saving gate activations. */
    void cellForward(Calls.CellForward call);

    /** One timestep backward from saved gate activations. */
    void cellBackward(Calls.CellBackward call);

    /** Releases what the instance owns (threads, streams); packed weights and workspaces stay valid. */
    @Override
    default void close() {}
}
