package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.L;
import static org.lstmk.simd.SimdSpecies.MAX_ACCUMULATORS;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.MemorySegment;
import org.lstmk.api.Layout;

/**
 * One forward call (inference or training) as the program of each worker of a {@link WorkerTeam}. Worker
 * {@code p} owns a contiguous share of the unit blocks, hence of the W_ih and W_hh panels, which stay in its
 * core's caches from step to step:
 * <ol>
 *   <li>copy its share of the rows of {@code x} into the time-major native copy {@code xn}, and its units of
 *       {@code h0, c0}; barrier (these copies run on the calling thread instead when the caller's segments are
 *       confined to it);</li>
 *   <li>the input projection for its own gate columns, {@code gates[rows][own] = xn · W_ih}, as GEMMs over chunks
 *       of steps ({@link #chunkSteps}) just before those steps run, so that it is still in L2 when read;</li>
 *   <li>per step and tile, {@code h_t·W_hh} ({@link MicroKernels#blocks}) and at once the cell on that tile
 *       (the layer's {@link Cell}: + projection + bias, activations, c and h); then a barrier so that
 *       everyone's {@code h_t} is complete before anyone reads it;</li>
 *   <li>with projection (LSTMP) the cell writes {@code m_t} into its own rows ({@code ms}), and the step has a
 *       phase of its own: a barrier (every unit of {@code m_t} is needed), then {@code h_t = m_t·W_hrᵀ} for the
 *       thread's share of the blocks of P columns ({@link #projectHidden}), before the step's closing barrier;</li>
 *   <li>copy its units of every {@code h_t}, and of {@code h_T, c_T}, out to the caller.</li>
 * </ol>
 * The projection is written over by the activations (training) or left as scratch (inference).
 *
 * <p>A packed call ({@link Steps}: PyTorch's {@code PackedSequence}) runs the same program over its rows only: step
 * {@code t} has {@code size(t)} rows, a prefix of the previous step's, and reads its input rows of {@code h} and
 * {@code c} at the row of its gates. Its outputs come in two pieces: the sequences that go on are written as the
 * next step's input, those that end at {@code t} to their final rows ({@code N + r}, where
 * {@code h_T, c_T} are copied from). A uniform call is the packed call of {@code B} rows at every step, and runs
 * exactly as it always did. With projection, {@code m} of step {@code t} lies at row {@code B + offset(t) + r}
 * (where {@code y} has that output), so that the projection's weight gradient reads it row for row.
 */
final class ForwardPass implements WorkerTeam.Job {
    /** Rows of the projection's A block kept hot while sweeping the own panels. */
    static final int ROW_BLOCK = 96;
    /** Bytes of this thread's projection computed ahead of the steps that read it. */
    static final long PROJECTION_CHUNK_BYTES = 256 * 1024;
    /** Rows of a register tile when a tile column is one unit block (4 vectors). */
    static final int BLOCK_TILE_ROWS = MAX_ACCUMULATORS / 4;

    private final SimdWeights w;
    private final Cell cell;
    private final GateLayout shape;
    private final Layout layout;
    private final Steps rows;
    private final int steps, batch;
    private final MemorySegment x, h0, c0, y, hT, cT;
    private final MemorySegment xn, gates, hs, cs, ms, tileBuffer;
    private final boolean save;
    private final int workers;

    ForwardPass(SimdWeights w, Layout layout, Steps rows, MemorySegment x, MemorySegment h0,
                MemorySegment c0, MemorySegment y, MemorySegment hT, MemorySegment cT, MemorySegment xn,
                MemorySegment tileBuffer, SimdWorkspace ws, boolean save, int workers) {
        this.w = w;
        this.cell = w.cell;
        this.shape = w.shape;
        this.layout = layout;
        this.rows = rows;
        this.steps = rows.steps;
        this.batch = rows.batch;
        this.x = x;
        this.h0 = h0;
        this.c0 = c0;
        this.y = y;
        this.hT = hT;
        this.cT = cT;
        this.xn = xn;
        this.tileBuffer = tileBuffer;
        this.gates = ws.gates();
        this.hs = ws.hs();
        this.cs = ws.cs();
        this.ms = ws.ms();
        this.save = save;
        this.workers = workers;
    }

    /** First and last own unit block, first unit, end of own padded units, end of own real units. */
    private int u0(int p) { return Tiles.share(shape.blocks(), workers, p); }

    private int u1(int p) { return Tiles.share(shape.blocks(), workers, p + 1); }

    /** First and end own block of columns of h: the unit blocks without projection, a share of P's with it. */
    private int v0(int p) { return Tiles.share(shape.outBlocks(), workers, p); }

    private int v1(int p) { return Tiles.share(shape.outBlocks(), workers, p + 1); }

    @Override
    public void copyIn(int p) {
        int hid = shape.hid(), out = shape.out(), in = shape.in(), n = rows.rows();
        int j0 = u0(p) * L, j1 = u1(p) * L, j1h = Math.min(j1, hid);
        int k0 = v0(p) * L, k1 = v1(p) * L, k1h = Math.min(k1, out);
        Copies.sequenceIn(x, layout, steps, batch, in, Tiles.share(n, workers, p), Tiles.share(n, workers, p + 1),
                0, in, xn, 4L * in);
        Copies.stateIn(h0, batch, out, k0, k1h, k1, hs, 0, shape.outRowBytes());
        Copies.stateIn(c0, batch, hid, j0, j1h, j1, cs, 0, shape.stateRowBytes());
    }

    @Override
    public void compute(int p, SpinBarrier barrier) {
        recur(p, barrier, u0(p), u1(p), v0(p), v1(p), p * Tiles.THREAD_TILE_BYTES);
    }

    /**
     * Steps whose input projection is computed together, just before they run: enough rows for an efficient GEMM
     * ({@link #ROW_BLOCK}), few enough that this thread's share of them ({@link #PROJECTION_CHUNK_BYTES}) is still
     * in L2 when the cell reads it (from DRAM, it cost as much as the cell's arithmetic).
     */
    private int chunkSteps(int ownBlocks) {
        long rowBytes = (long) batch * ownBlocks * 4 * VB;
        int steps = (int) Math.max(1, PROJECTION_CHUNK_BYTES / rowBytes);
        return Math.max(steps, (ROW_BLOCK + batch - 1) / batch);
    }

    @Override
    public void copyOut(int p) {
        int hid = shape.hid(), out = shape.out(), n = rows.rows();
        int j0 = u0(p) * L, j1h = Math.min(u1(p) * L, hid);
        int k0 = v0(p) * L, k1h = Math.min(v1(p) * L, out);
        long hRow = shape.stateRowBytes(), oRow = shape.outRowBytes();
        if (y != null && !rows.packed()) {
            Copies.sequenceOut(hs, oRow, (long) batch * oRow, layout, steps, batch, out, 0, n, k0, k1h, y);
        } else if (y != null) {
            // step t's outputs: the sequences that go on at the next step's input rows, those that end at N + r
            for (int t = 0; t < steps; t++) {
                int size = rows.size(t), live = rows.size(t + 1), o = rows.offset(t);
                Copies.rowsOut(hs, (long) rows.liveRow(t) * oRow, oRow, live, out, k0, k1h, y, o);
                Copies.rowsOut(hs, (long) (n + live) * oRow, oRow, size - live, out, k0, k1h, y, o + live);
            }
        }
        Copies.stateOut(hs, (long) n * oRow, oRow, batch, out, k0, k1h, hT);
        Copies.stateOut(cs, (long) n * hRow, hRow, batch, hid, j0, j1h, cT);
    }

    /** {@code gates[r][own blocks] = xn[r]·W_ih} for rows {@code [r0, r1)} (the bias is added by the cell). */
    private void project(int u0, int u1, int r0, int r1) {
        int in = shape.in();
        long gRow = shape.gateRowBytes(), aRow = 4L * in;
        for (int rb = r0; rb < r1; rb += ROW_BLOCK) {
            int n = Math.min(ROW_BLOCK, r1 - rb);
            int tiles = Tiles.count(n, BLOCK_TILE_ROWS);
            for (int u = u0; u < u1; u++) {
                long col = u * 4 * VB;
                int r = rb;
                for (int i = 0; i < tiles; i++) {
                    int mr = Tiles.size(n, tiles, i);
                    MicroKernels.gemm(mr, 4, xn, r * aRow, aRow, 4, w.wih, w.wihPanel(u), VB, 4 * VB, in,
                            gates, r * gRow + col, gRow);
                    r += mr;
                }
            }
        }
    }

    private void recur(int p, SpinBarrier barrier, int u0, int u1, int v0, int v1, long tileBase) {
        long hRow = shape.stateRowBytes(), oRow = shape.outRowBytes(), gRow = shape.gateRowBytes();
        boolean projection = shape.projection();
        ForwardStep s = new ForwardStep();
        s.hs = ms;
        s.gates = gates;
        s.cs = cs;
        s.bias = w.bias;
        s.tile = tileBuffer;
        s.tileRow = Tiles.TILE_ROW_BYTES;
        s.partStride = Tiles.MAX_PENDING * Tiles.TILE_BYTES;
        s.hRow = hRow;
        s.gRow = gRow;
        s.save = save;
        int hid = shape.hid(), out = shape.out(), j0 = u0 * L, j1 = Math.min(u1 * L, hid), n = rows.rows();
        // Small steps are split in two to hide the barrier: the product over this thread's own units of h_t (ready
        // as soon as its own cell has run) before waiting for the others, the rest after. It needs every tile of the
        // step kept until the end, so only steps of at most MAX_PENDING tiles do it; bigger steps hide the barrier
        // behind their length anyway. With projection the own units of m are not columns of h: nothing to start with.
        // Whether the team meets in two halves (arrive, then wait at the next step) is decided once, from a step of
        // all B rows (a packed step has no more tiles than that; were it to have, it would only wait).
        boolean split = workers > 1 && !projection && pendingTiles(batch, u1 - u0) <= Tiles.MAX_PENDING;
        int chunkRows = chunkSteps(u1 - u0) * batch, projected = 0;
        for (int t = 0; t < steps; t++) {
            if (t == projected) {
                // between this thread's arrival at the last barrier and its wait: the projection also hides it
                projected = rows.stepAfterRows(t, chunkRows);
                project(u0, u1, rows.offset(t), rows.offset(projected));
            }
            // the step's rows: [0, live) go on to step t+1, [live, size) end here (see Steps)
            int size = rows.size(t), live = rows.size(t + 1);
            long stepRow = rows.offset(t);
            s.gBase = stepRow * gRow;
            s.cPrevBase = stepRow * hRow;
            long liveBase = (long) rows.liveRow(t) * hRow, endBase = (long) n * hRow;
            long mBase = (stepRow + batch) * hRow; // with projection: m of step t at the rows of y
            long aBase = stepRow * oRow;
            int tiles = Tiles.count(size, BLOCK_TILE_ROWS);
            int widest = Tiles.size(size, tiles, 0);
            int group = Math.max(1, Math.min(4, MAX_ACCUMULATORS / (4 * widest)));
            int groups = (u1 - u0 + group - 1) / group;
            // Odd steps sweep the panels backwards: what the last step touched last is still in L2 and is
            // needed first, rather than evicted just before it is needed (a cyclic sweep of a slice larger than
            // L2 would miss on every line).
            boolean backwards = (t & 1) == 1;
            boolean splitting = split && t > 0 && groups * tiles <= Tiles.MAX_PENDING;
            if (splitting) {
                forEachTile(groups, size, tiles, group, u0, u1, backwards, (q, u, nb, r, mr) -> product(aBase, u, nb,
                        r, mr, j0, j1, tileBase + q * Tiles.TILE_BYTES));
                barrier.awaitOthers(p);
                s.sink += touch(hs, aBase, oRow, size, 0, j0) + touch(hs, aBase, oRow, size, j1, hid);
            } else if (split && t > 0) {
                barrier.awaitOthers(p);
            }
            forEachTile(groups, size, tiles, group, u0, u1, backwards, (q, u, nb, r, mr) -> {
                long slot = tileBase + (splitting ? q * Tiles.TILE_BYTES : 0);
                int parts = 1;
                if (!splitting) {
                    product(aBase, u, nb, r, mr, 0, out, slot);
                } else {
                    if (j0 > 0) {
                        product(aBase, u, nb, r, mr, 0, j0, slot + s.partStride);
                        parts |= 2;
                    }
                    if (j1 < hid) {
                        product(aBase, u, nb, r, mr, j1, hid, slot + 2 * s.partStride);
                        parts |= 4;
                    }
                }
                s.parts = parts;
                // the cell writes c and h of the tile's rows that go on, then of those that end here, where each
                // belongs; a uniform step's tiles are all of one kind
                int ends = Math.max(r, Math.min(live, r + mr));
                if (ends > r) {
                    s.tileBase = slot;
                    s.cNextBase = liveBase;
                    s.hNextBase = projection ? mBase : liveBase;
                    cell.forwardTile(s, ends - r, nb, r * gRow + u * 4 * VB, r * hRow + u * VB, u * 4 * VB);
                }
                if (ends < r + mr) {
                    s.tileBase = slot + (ends - r) * s.tileRow;
                    s.cNextBase = endBase;
                    s.hNextBase = projection ? mBase : endBase;
                    cell.forwardTile(s, r + mr - ends, nb, ends * gRow + u * 4 * VB, ends * hRow + u * VB, u * 4 * VB);
                }
            });
            if (projection) {
                // every thread's m_{t+1} is needed for any column of h_{t+1}
                barrier.await(p);
                projectHidden(v0, v1, 0, live, mBase, (long) rows.liveRow(t) * oRow);
                projectHidden(v0, v1, live, size, mBase, (long) n * oRow);
            }
            if (t + 1 < steps) {
                if (split) barrier.arrive(p);
                else barrier.await(p);
            }
        }
    }

    /** Tiles of a step of {@code size} rows over {@code blocks} unit blocks. */
    private static int pendingTiles(int size, int blocks) {
        int tiles = Tiles.count(size, BLOCK_TILE_ROWS);
        int group = Math.max(1, Math.min(4, MAX_ACCUMULATORS / (4 * Tiles.size(size, tiles, 0))));
        return (blocks + group - 1) / group * tiles;
    }

    /**
     * Reads one float of every cache line of units {@code [k0, k1)} of {@code rows} state rows, so that the lines
     * the other threads have just written cross over all at once. The kernel's k loop would otherwise take the
     * misses one line at a time, each a full core-to-core transfer (a few hundred ns here), which cost more than the
     * product itself at B = 1.
     */
    static float touch(MemorySegment m, long base, long row, int rows, int k0, int k1) {
        float sum = 0;
        for (int r = 0; r < rows; r++) {
            for (long o = base + r * row + 4L * k0, end = base + r * row + 4L * k1; o < end; o += 64) {
                sum += m.get(Copies.F, o);
            }
        }
        return sum;
    }

    /**
     * The projection phase of LSTMP: {@code h[rows][own column blocks v0..v1) = m·W_hrᵀ} for rows {@code [r0, r1)}
     * of the step, row {@code r} of {@code m} at {@code mBase + r·hRow} and of {@code h} at {@code hBase + r·oRow}
     * (padding columns come out 0: those of {@code W_hrᵀ} are); flushed as the cell flushes h.
     */
    private void projectHidden(int v0, int v1, int r0, int r1, long mBase, long hBase) {
        int n = r1 - r0;
        if (v1 <= v0 || n <= 0) return;
        long hRow = shape.stateRowBytes(), oRow = shape.outRowBytes();
        int tiles = Tiles.count(n, BackwardPass.VECTOR_TILE_ROWS);
        int widest = Tiles.size(n, tiles, 0);
        int group = Math.max(1, Math.min(4, MAX_ACCUMULATORS / widest));
        for (int v = v0; v < v1; v += group) {
            int nv = Math.min(group, v1 - v);
            int r = r0;
            for (int i = 0; i < tiles; i++) {
                int mr = Tiles.size(n, tiles, i);
                MicroKernels.gemm(mr, nv, ms, mBase + r * hRow, hRow, 4, w.whrT, v * VB, VB, oRow, shape.hid(),
                        hs, hBase + r * oRow + v * VB, oRow);
                r += mr;
            }
        }
        for (int r = r0; r < r1; r++) Activations.flushSubnormals(hs, hBase + r * oRow + v0 * VB, v1 - v0);
    }

    /** {@code tile = h_t[rows r..r+mr)[k0..k1) · W_hh[k0..k1)[blocks u..u+nb)}. */
    private void product(long aBase, int u, int nb, int r, int mr, int k0, int k1, long tile) {
        long oRow = shape.outRowBytes();
        MicroKernels.blocks(mr, nb, hs, aBase + r * oRow + 4L * k0, oRow, 4, w.whh, w.whhPanel(u) + k0 * 4 * VB,
                w.whhPanel(1) - w.whhPanel(0), 4 * VB, k1 - k0, tileBuffer, tile, Tiles.TILE_ROW_BYTES);
    }

    /** One tile of a step: sequence number, first block, blocks, first row, rows. */
    @FunctionalInterface
    private interface TileVisitor {
        void visit(int q, int u, int nb, int r, int mr);
    }

    /** The step's tiles, panel group by panel group (backwards if asked), row tile by row tile within a group. */
    private static void forEachTile(int groups, int size, int tiles, int group, int u0, int u1, boolean backwards,
                                    TileVisitor v) {
        int q = 0;
        for (int gi = 0; gi < groups; gi++) {
            int u = u0 + (backwards ? groups - 1 - gi : gi) * group;
            int nb = Math.min(group, u1 - u);
            int r = 0;
            for (int i = 0; i < tiles; i++) {
                int mr = Tiles.size(size, tiles, i);
                v.visit(q++, u, nb, r, mr);
                r += mr;
            }
        }
    }
}
