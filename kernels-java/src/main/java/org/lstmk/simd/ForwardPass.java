package org.lstmk.simd;

import static org.lstmk.simd.SimdSpecies.L;
import static org.lstmk.simd.SimdSpecies.MAX_ACCUMULATORS;
import static org.lstmk.simd.SimdSpecies.VB;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.lstmk.api.Layout;

/**
 * One forward call (inference or training) as the program of each worker of a {@link WorkerTeam}. Worker
 * {@code p} is the <em>home</em> of a contiguous share of the unit blocks, hence of the W_ih and W_hh panels, which
 * stay in its core's caches from step to step as long as it does its own work; but any thread may do any item of
 * work, taken dynamically ({@link StepBoard}), so that a descheduled or slower thread does not hold the step back:
 * <ol>
 *   <li>the caller copies {@code x} into the time-major native copy {@code xn}, and {@code h0, c0} into the state
 *       rows, for every share ({@link #copyIn}), before the team starts;</li>
 *   <li>the input projection of a group of blocks, {@code gates[rows][group] = xn · W_ih}, as GEMMs over chunks
 *       of steps ({@link #chunkSteps}) by the item of that group at the chunk's first step, so that it is still in L2
 *       when read;</li>
 *   <li>per step, item by item (a group of blocks, all rows), {@code h_t·W_hh} ({@link MicroKernels#blocks}) + the
 *       step's projection and the bias ({@link TileSums}) into a compact tile, and at once the cell on it (the layer's
 *       {@link Cell}: activations, c and h); a step's items start once every item of the step before is done;</li>
 *   <li>with projection (LSTMP) the cell writes {@code m_t} into its own rows ({@code ms}), and the step has a
 *       phase of its own: once every unit of {@code m_t} is done, {@code h_t = m_t·W_hrᵀ} per home's share of the
 *       blocks of P columns ({@link #projectHidden});</li>
 *   <li>the caller copies every {@code h_t}, and {@code h_T, c_T}, out ({@link #copyOut}).</li>
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
    /** Per home thread: its unit blocks {@code [u0, u1)}, its column blocks of h {@code [v0, v1)}. */
    private final int[] u0, u1, v0, v1;
    /** Per home: whether its small steps start with the product over its own units (see {@link #splitting}). */
    private final boolean[] split;
    /** Per home and step: the end of the chunk of steps whose input projection is computed at it, or 0. */
    private final int[][] chunkEnd;
    private final StepBoard board;
    /** Per worker: 1 while it computes an item (see {@link #release}); next to it, the items it computed. */
    private final long[] busy;
    private volatile boolean over;

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
        u0 = new int[workers];
        u1 = new int[workers];
        v0 = new int[workers];
        v1 = new int[workers];
        split = new boolean[workers];
        chunkEnd = new int[workers][steps];
        int maxBlocks = 1;
        for (int p = 0; p < workers; p++) {
            u0[p] = Tiles.share(shape.blocks(), workers, p);
            u1[p] = Tiles.share(shape.blocks(), workers, p + 1);
            v0[p] = Tiles.share(shape.outBlocks(), workers, p);
            v1[p] = Tiles.share(shape.outBlocks(), workers, p + 1);
            maxBlocks = Math.max(maxBlocks, u1[p] - u0[p]);
            split[p] = workers > 1 && !shape.projection() && pendingTiles(batch, u1[p] - u0[p]) <= Tiles.MAX_PENDING;
            int chunkRows = chunkSteps(u1[p] - u0[p]) * batch;
            for (int t = 0; t < steps; t = chunkEnd[p][t]) chunkEnd[p][t] = rows.stepAfterRows(t, chunkRows);
        }
        board = new StepBoard(workers, maxBlocks);
        busy = new long[(workers + 1) * BUSY_STRIDE];
    }

    /** The copies are cut like the work, by home, however many threads run the call. */
    @Override
    public int copyShares(int threads) { return workers; }

    @Override
    public void copyIn(int p) {
        int hid = shape.hid(), out = shape.out(), in = shape.in(), n = rows.rows();
        int j0 = u0[p] * L, j1 = u1[p] * L, j1h = Math.min(j1, hid);
        int k0 = v0[p] * L, k1 = v1[p] * L, k1h = Math.min(k1, out);
        Copies.sequenceIn(x, layout, steps, batch, in, Tiles.share(n, workers, p), Tiles.share(n, workers, p + 1),
                0, in, xn, 4L * in);
        Copies.stateIn(h0, batch, out, k0, k1h, k1, hs, 0, shape.outRowBytes());
        Copies.stateIn(c0, batch, hid, j0, j1h, j1, cs, 0, shape.stateRowBytes());
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
        int j0 = u0[p] * L, j1h = Math.min(u1[p] * L, hid);
        int k0 = v0[p] * L, k1h = Math.min(v1[p] * L, out);
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

    /** Tests only: runs after each tile of the input projection is written. */
    static volatile Runnable inProjection;

    /**
     * {@code gates[r][blocks u0..u1) = xn[r]·W_ih} for rows {@code [r0, r1)}. The gate rows are only written, never
     * read and written back (the bias is added with the projection onto the tile: {@link TileSums#addBoth}), since an
     * inference item, and with it its chunk of the projection, may be computed again by another thread while the
     * first one still writes.
     */
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
                    // one unit block: the blocks kernel's B offsets are constants (VB apart), which AVX2's 16
                    // registers need (gemm's vector stride is a variable: 3×4 tile 48–81 vs 85–91 GFLOP/s alone)
                    MicroKernels.blocks(mr, 1, xn, r * aRow, aRow, 4, w.wih, w.wihPanel(u), 0, 4 * VB, in,
                            gates, r * gRow + col, gRow);
                    Runnable hook = inProjection;
                    if (hook != null) hook.run();
                    r += mr;
                }
            }
        }
    }

    /**
     * The time loop of thread {@code me}. Each step is a phase of the {@link StepBoard} whose items are groups of up
     * to 4 unit blocks (all rows of the step); thread {@code p} is the home of the groups of its blocks
     * {@code [u0[p], u1[p])}. A thread does its own groups (odd steps backwards: what the last step touched last is
     * still in L2 and is needed first, rather than evicted just before it is needed), takes the others' unclaimed
     * ones, then waits for the step's last ones. Small steps of a home are split in two to hide that wait: the home
     * claims its groups of the next step and computes their product over its own units of h before waiting for the
     * others' units ({@link #splitting}). With projection (LSTMP) each step has a second phase, the projection of
     * the step's m onto h, one item per home. An item's arithmetic depends only on its home, never on the thread
     * that does it, so the result is the same whoever computes what. Inference items only write values they do not
     * read, so a waiting thread computes again an item whose claimer is late; training items write the activations
     * over their input and are never computed twice.
     */
    @Override
    public void compute(int me, SpinBarrier barrier) {
        try {
            loop(me, barrier);
        } catch (Abandoned e) {
            // the call is over: this worker came too late to touch anything of it
        }
    }

    private void loop(int me, SpinBarrier barrier) {
        boolean projection = shape.projection();
        Worker th = new Worker(me, newStep());
        // made once, reading the step from th.step: nothing is allocated per step
        StepBoard.Count cellItems = h -> items(h, th.step), projectItems = h -> v1[h] > v0[h] ? 1 : 0;
        StepBoard.Item other = (h, g) -> th.cellItem(h, g, th.step, -1), otherInside = (h, g) -> {
            th.enter();
            try {
                th.cellItem(h, g, th.step, -1);
            } finally {
                th.leave();
            }
        }, project = (h, g) -> {
            th.enter();
            try {
                th.projectItem(h, th.step);
            } finally {
                th.leave();
            }
        };
        int pending = 0; // bit k: own group k of the coming step is claimed and has its own-units part computed
        for (int t = 0; t < steps; t++) {
            th.step = t;
            int phase = projection ? 2 * t : t, n = items(me, t);
            boolean backwards = (t & 1) == 1;
            th.enter();
            try {
                if (pending != 0) {
                    // the lines the others have just written cross over all at once, not one miss at a time in the
                    // kernel
                    int hid = shape.hid(), j0 = u0[me] * L, j1 = Math.min(u1[me] * L, hid), size = rows.size(t);
                    long aBase = (long) rows.offset(t) * shape.outRowBytes(), oRow = shape.outRowBytes();
                    th.s.sink += touch(hs, aBase, oRow, size, 0, j0) + touch(hs, aBase, oRow, size, j1, hid);
                }
                for (int k = 0; k < n; k++) {
                    int g = backwards ? n - 1 - k : k;
                    if ((pending >>> k & 1) != 0) {
                        th.cellItem(me, g, t, k);
                        board.finish(me, g, phase);
                    } else if (board.claim(me, g, phase, me)) {
                        th.cellItem(me, g, t, -1);
                        board.finish(me, g, phase);
                    }
                }
                pending = 0;
                board.help(me, phase, cellItems, other, backwards, false, false, 0, barrier);
                if (t + 1 < steps && splitting(me, t + 1) && ownDone(me, t, phase)) pending = th.startNext(t + 1);
            } finally {
                th.leave();
            }
            board.help(me, phase, cellItems, otherInside, backwards, true, !save, th.patience(), barrier);
            if (projection) {
                int next = phase + 1;
                if (v1[me] > v0[me] && board.claim(me, 0, next, me)) {
                    project.run(me, 0);
                    board.finish(me, 0, next);
                }
                board.help(me, next, projectItems, project, false, true, !save, th.patience(), barrier);
            }
        }
    }

    /**
     * Ends the call for the other workers: none of them touches the call's memory any more once this returns. A
     * worker holds its {@link #busy} mark while it computes (only then does it touch memory); the call sets
     * {@link #over} and then waits for the marks to drop, and a worker that raises its mark and then finds the call
     * over lowers it and leaves ({@link Abandoned}). One of the two sees the other: both are volatile.
     */
    @Override
    public boolean release() {
        over = true;
        for (int p = 1; p < workers; p++) {
            int spins = 0;
            while ((long) BUSY.getVolatile(busy, (p + 1) * BUSY_STRIDE) != 0) {
                if (++spins < 1 << 10) Thread.onSpinWait();
                else Thread.yield(); // its core is taken: let it finish its item
            }
        }
        return true;
    }

    /** Whether a worker was found descheduled inside an item (see {@link StepBoard#troubled}). */
    boolean troubled() { return board.troubled(); }

    /**
     * Whether one of the {@code threads} that ran the call did nothing (called after {@link #release}): it started
     * after the caller had done everything, which on a machine with idle cores takes microseconds, so its core was
     * busy with other work.
     */
    boolean idleWorker(int threads) {
        for (int p = 1; p < threads; p++) if ((long) BUSY.getOpaque(busy, (p + 1) * BUSY_STRIDE + 1) == 0) return true;
        return false;
    }

    private static final VarHandle BUSY = MethodHandles.arrayElementVarHandle(long[].class);
    /** Longs per worker's mark: 128 bytes, a line pair of its own. */
    private static final int BUSY_STRIDE = 16;
    /** Thrown in a worker that finds the call over. */
    private static final class Abandoned extends RuntimeException {
        Abandoned() { super("the call is over", null, false, false); }
    }
    private static final Abandoned ABANDONED = new Abandoned();

    /** Groups of unit blocks per item at step {@code t}: as many as the register tile's accumulators allow. */
    private int group(int t) {
        int size = rows.size(t);
        int widest = Tiles.size(size, Tiles.count(size, BLOCK_TILE_ROWS), 0);
        return Math.max(1, Math.min(4, MAX_ACCUMULATORS / (4 * widest)));
    }

    /** Items (groups) of home {@code h} at step {@code t}. */
    private int items(int h, int t) {
        int g = group(t);
        return (u1[h] - u0[h] + g - 1) / g;
    }

    /**
     * Whether home {@code h}'s items of step {@code t} compute the product over the home's own units of h apart
     * from the rest (so that the home can start them before the others' units are ready): only for steps of at most
     * {@link Tiles#MAX_PENDING} tiles, since each needs a tile kept until the end. Bigger steps hide the wait behind
     * their length anyway; with projection the own units of m are not columns of h.
     */
    private boolean splitting(int h, int t) {
        if (!split[h] || t == 0) return false;
        return items(h, t) * Tiles.count(rows.size(t), BLOCK_TILE_ROWS) <= Tiles.MAX_PENDING;
    }

    /** Whether every item of home {@code h} in {@code phase} (step {@code t}) is done. */
    private boolean ownDone(int h, int t, int phase) {
        for (int g = items(h, t) - 1; g >= 0; g--) if (!board.done(h, g, phase)) return false;
        return true;
    }

    private ForwardStep newStep() {
        ForwardStep s = new ForwardStep();
        s.hs = ms;
        s.gates = gates;
        s.cs = cs;
        s.tile = tileBuffer;
        s.hRow = shape.stateRowBytes();
        s.gRow = shape.gateRowBytes();
        s.save = save;
        return s;
    }

    /** What one thread needs to compute items of any home: its cell state and its share of the tile buffer. */
    private final class Worker {
        final int me;
        final ForwardStep s;
        final long tileBase;
        /** The longest item this thread has computed, for how long it waits for another thread's. */
        long longestNanos;
        /** Items this thread has computed, also published next to its {@link #busy} mark. */
        long items;
        /** The step of the time loop this thread is at. */
        int step;

        Worker(int me, ForwardStep s) {
            this.me = me;
            this.s = s;
            this.tileBase = me * Tiles.THREAD_TILE_BYTES;
        }

        /** Marks this worker busy (it is about to touch the call's memory), or leaves if the call is over. */
        void enter() {
            if (me == 0) return; // the caller itself ends the call
            BUSY.setVolatile(busy, (me + 1) * BUSY_STRIDE, 1L);
            if (over || board.isEvicted(me)) {
                BUSY.setVolatile(busy, (me + 1) * BUSY_STRIDE, 0L);
                throw ABANDONED;
            }
        }

        void leave() {
            if (me != 0) BUSY.setRelease(busy, (me + 1) * BUSY_STRIDE, 0L);
        }

        long patience() {
            return Math.max(StepBoard.MIN_PATIENCE_NANOS, 4 * longestNanos);
        }

        /**
         * Claims this thread's items of step {@code t} (it is their home) and computes their product over its own
         * units, each tile in a slot of its own; returns the claimed ones as bits by position in the visiting order.
         */
        int startNext(int t) {
            int n = items(me, t), phase = shape.projection() ? 2 * t : t;
            int tiles = Tiles.count(rows.size(t), BLOCK_TILE_ROWS), j0 = u0[me] * L, j1 = Math.min(u1[me] * L, shape.hid());
            int mask = 0;
            for (int k = 0; k < n; k++) {
                int g = (t & 1) == 1 ? n - 1 - k : k;
                if (!board.claim(me, g, phase, me)) continue;
                mask |= 1 << k;
                int u = u0[me] + g * group(t), nb = Math.min(group(t), u1[me] - u);
                projectChunk(me, t, u, nb);
                long aBase = (long) rows.offset(t) * shape.outRowBytes();
                int size = rows.size(t);
                for (int i = 0, r = 0; i < tiles; i++) {
                    int mr = Tiles.size(size, tiles, i);
                    product(aBase, u, nb, r, mr, j0, j1, tileBase + (k * tiles + i) * Tiles.TILE_BYTES);
                    r += mr;
                }
            }
            return mask;
        }

        /**
         * Item {@code g} of home {@code h} at step {@code t}: group {@code g} of the home's blocks, all rows of the
         * step. {@code pendingSlot} is the item's position in the home's visiting order when {@link #startNext} has
         * already computed its own-units part, else −1 (the tiles then use the thread's spare slot).
         */
        void cellItem(int h, int g, int t, int pendingSlot) {
            long t0 = System.nanoTime();
            int hid = shape.hid(), out = shape.out(), n = rows.rows();
            long hRow = shape.stateRowBytes(), oRow = shape.outRowBytes(), gRow = shape.gateRowBytes();
            int group = group(t), u = u0[h] + g * group, nb = Math.min(group, u1[h] - u);
            if (pendingSlot < 0) projectChunk(h, t, u, nb);
            boolean splitting = splitting(h, t), projection = shape.projection();
            int j0 = u0[h] * L, j1 = Math.min(u1[h] * L, hid);
            // the step's rows: [0, live) go on to step t+1, [live, size) end here (see Steps)
            int size = rows.size(t), live = rows.size(t + 1), tiles = Tiles.count(size, BLOCK_TILE_ROWS);
            long stepRow = rows.offset(t);
            s.gBase = stepRow * gRow;
            s.cPrevBase = stepRow * hRow;
            long liveBase = (long) rows.liveRow(t) * hRow, endBase = (long) n * hRow;
            long mBase = (stepRow + batch) * hRow; // with projection: m of step t at the rows of y
            long aBase = stepRow * oRow;
            // the tile: compact rows of nb unit blocks, the pre-activations = (input projection + bias) + h·W_hh, in
            // one fixed order for the home: when split, its own units, the projection and bias, the units before
            // them, those after
            long tileRow = nb * 4 * VB;
            s.tileRow = tileRow;
            for (int i = 0, r = 0; i < tiles; r += Tiles.size(size, tiles, i), i++) {
                int mr = Tiles.size(size, tiles, i);
                long slot = tileBase + (pendingSlot >= 0 ? pendingSlot * tiles + i : Tiles.SPARE_SLOT) * Tiles.TILE_BYTES;
                if (!splitting) product(aBase, u, nb, r, mr, 0, out, slot);
                else if (pendingSlot < 0) product(aBase, u, nb, r, mr, j0, j1, slot);
                TileSums.addBoth(tileBuffer, slot, tileRow, mr, 4 * nb, gates, s.gBase + r * gRow + u * 4 * VB, gRow,
                        w.bias, u * 4 * VB, 0);
                if (splitting) {
                    long part = tileBase + Tiles.PART_SLOT * Tiles.TILE_BYTES;
                    if (j0 > 0) {
                        product(aBase, u, nb, r, mr, 0, j0, part);
                        TileSums.add(tileBuffer, slot, tileRow, mr, 4 * nb, tileBuffer, part, tileRow);
                    }
                    if (j1 < hid) {
                        product(aBase, u, nb, r, mr, j1, hid, part);
                        TileSums.add(tileBuffer, slot, tileRow, mr, 4 * nb, tileBuffer, part, tileRow);
                    }
                }
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
            }
            longestNanos = Math.max(longestNanos, System.nanoTime() - t0);
            BUSY.setOpaque(busy, (me + 1) * BUSY_STRIDE + 1, ++items);
        }

        /** The projection phase's item of home {@code h} at step {@code t}: its column blocks of h, all rows. */
        void projectItem(int h, int t) {
            long t0 = System.nanoTime();
            int size = rows.size(t), live = rows.size(t + 1);
            long hRow = shape.stateRowBytes(), oRow = shape.outRowBytes();
            long mBase = (rows.offset(t) + batch) * hRow;
            projectHidden(v0[h], v1[h], 0, live, mBase, (long) rows.liveRow(t) * oRow);
            projectHidden(v0[h], v1[h], live, size, mBase, (long) rows.rows() * oRow);
            longestNanos = Math.max(longestNanos, System.nanoTime() - t0);
            BUSY.setOpaque(busy, (me + 1) * BUSY_STRIDE + 1, ++items);
        }
    }

    /** At the first step of a chunk of home {@code h}: the chunk's input projection for blocks {@code [u, u+nb)}. */
    private void projectChunk(int h, int t, int u, int nb) {
        int end = chunkEnd[h][t];
        if (end > 0) project(u, u + nb, rows.offset(t), rows.offset(end));
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

    /**
     * {@code tile = h_t[rows r..r+mr)[k0..k1) · W_hh[k0..k1)[blocks u..u+nb)}, the tile's rows compact
     * ({@code nb} unit blocks).
     */
    private void product(long aBase, int u, int nb, int r, int mr, int k0, int k1, long tile) {
        long oRow = shape.outRowBytes();
        MicroKernels.blocks(mr, nb, hs, aBase + r * oRow + 4L * k0, oRow, 4, w.whh, w.whhPanel(u) + k0 * 4 * VB,
                w.whhPanel(1) - w.whhPanel(0), 4 * VB, k1 - k0, tileBuffer, tile, nb * 4 * VB);
    }
}
