package org.lstmk.simd;

import java.lang.foreign.MemorySegment;
import org.lstmk.api.LstmConfig;

/**
 * The gate epilogue of the fused recurrent step, chosen once per packed layer: what {@link ForwardPass} does with a
 * register tile of pre-activations once {@code h·W_hh} is in it, and what {@link BackwardPass} does with a tile of
 * {@code dh}. The plain cell ({@link CellKernels#PLAIN}) is the hot path of the ordinary LSTM and is left exactly as
 * it was; peepholes and the cell clip live in {@link FeatureCell}, so that neither adds a test to the plain path's
 * loops (the passes call the epilogue once per tile). The projection of LSTMP is not part of the cell: it is its own
 * phase of the passes, after every thread's cell output {@code m} of the step is complete.
 *
 * <p>Implementations keep vectors inside one method body (see {@link CellKernels}): nothing here takes or returns a
 * vector.
 */
interface Cell {
    /**
     * The forward cell on {@code rows × blocks} unit blocks of the tile at {@code s.tileBase}, which holds their
     * pre-activations (input projection, bias and {@code h·W_hh}: {@link ForwardStep}), rows {@code s.tileRow} apart.
     *
     * @param gOff    byte offset of the tile's first block in the step's gate rows (where training saves the
     *                activations)
     * @param hc      byte offset of the tile's first units in a state row buffer (relative to the step bases)
     * @param unitOff byte offset of the tile's first block in an interleaved {@code [4Hp]} per-unit vector
     *                (peepholes)
     */
    void forwardTile(ForwardStep s, int rows, int blocks, long gOff, long hc, long unitOff);

    /**
     * The backward cell on {@code rows × blocks} unit blocks whose incoming gradient is in {@code s.dh}; writes
     * {@code da} of the step and the running {@code dc}.
     *
     * @param g       byte offset of the first block in a gate row buffer (relative to the step bases)
     * @param hc      byte offset of the first units in a state row buffer (relative to the step bases)
     * @param unitOff byte offset of the first block in an interleaved {@code [4Hp]} per-unit vector (peepholes)
     */
    void backwardTile(BackwardStep s, int rows, int blocks, long g, long hc, long unitOff);

    /**
     * The cell of a layer of {@code config}.
     *
     * @param peepholes the packed peephole weights (interleaved {@code [4Hp]}, see {@link SimdWeights}), or null
     */
    static Cell of(LstmConfig config, MemorySegment peepholes) {
        if (!config.peepholes() && !config.hasCellClip()) return CellKernels.PLAIN;
        return new FeatureCell(config.peepholes() ? peepholes : null, config.cellClip());
    }
}
