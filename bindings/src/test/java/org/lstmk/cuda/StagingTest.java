package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Staging}, the staging logic of {@link JCudaDevice}, against a fake driver whose stream is real enough to
 * catch mistakes: copies are queued and only run at a synchronize (so a download is visible only afterwards, and
 * staging memory overwritten before a synchronize corrupts what lands), a copy outside a pinned allocation or into a
 * staging range that a queued copy still uses fails, and freed pinned memory cannot be touched again.
 *
 * <p>Most tests use small sizes (chunks of {@value #CHUNK} bytes, slots aligned to {@value #ALIGN}, a first
 * allocation of {@value #FIRST} bytes) so that every boundary is cheap to reach; {@link #productionSizes()} runs the
 * production constants.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class StagingTest {
    static final long CHUNK = 64;
    static final long ALIGN = 16;
    static final long FIRST = 64;

    /** A device whose memory is byte arrays and whose stream is a queue run at {@link #synchronizeStream()}. */
    static final class FakeDriver implements Staging.Driver<FakeDriver.Host, FakeDriver.Mem> {
        static final class Host {
            final Arena arena = Arena.ofShared();
            final MemorySegment segment;
            boolean freed;

            Host(long bytes) {
                segment = arena.allocate(bytes, 1);
            }
        }

        static final class Mem {
            final MemorySegment bytes;

            Mem(long n) {
                bytes = n > Integer.MAX_VALUE / 2 ? Arena.ofAuto().allocate(n, 1) : MemorySegment.ofArray(new byte[(int) n]);
            }

            byte[] toArray() {
                return bytes.toArray(ValueLayout.JAVA_BYTE);
            }
        }

        /** One enqueued copy; {@code toDevice} says which way. */
        record Copy(boolean toDevice, Host host, long hostOffset, Mem mem, long memOffset, long bytes) {
            boolean overlapsHost(Copy o) {
                return host == o.host && hostOffset < o.hostOffset + o.bytes && o.hostOffset < hostOffset + bytes;
            }
        }

        final List<Copy> queue = new ArrayList<>();
        final List<Copy> log = new ArrayList<>();
        final List<Long> allocations = new ArrayList<>();
        final List<Host> hosts = new ArrayList<>();
        int syncs;
        DeviceException failNextSync;

        @Override
        public Staging.Pinned<Host> allocateHost(long bytes) {
            allocations.add(bytes);
            Host h = new Host(bytes);
            hosts.add(h);
            return new Staging.Pinned<>(h, h.segment);
        }

        @Override
        public void freeHost(Host host) {
            if (host.freed) throw new AssertionError("pinned memory freed twice");
            for (Copy c : queue) {
                if (c.host == host) throw new AssertionError("pinned memory freed with a copy in flight: " + c);
            }
            host.freed = true;
            host.arena.close();
        }

        @Override
        public void copyToDevice(Device.Stream stream, Mem dst, long dstOffset, Host host, long hostOffset, long bytes) {
            enqueue(new Copy(true, host, hostOffset, dst, dstOffset, bytes));
        }

        @Override
        public void copyToHost(Device.Stream stream, Host host, long hostOffset, Mem src, long srcOffset, long bytes) {
            enqueue(new Copy(false, host, hostOffset, src, srcOffset, bytes));
        }

        private void enqueue(Copy c) {
            if (c.host.freed) throw new AssertionError("copy through freed pinned memory: " + c);
            if (c.bytes <= 0) throw new AssertionError("empty copy: " + c);
            if (c.hostOffset < 0 || c.hostOffset + c.bytes > c.host.segment.byteSize()) {
                throw new DeviceException("copy outside pinned memory of " + c.host.segment.byteSize() + " bytes: " + c);
            }
            if (c.memOffset < 0 || c.memOffset + c.bytes > c.mem.bytes.byteSize()) {
                throw new DeviceException("copy outside device memory of " + c.mem.bytes.byteSize() + " bytes: " + c);
            }
            for (Copy q : queue) {
                if (q.overlapsHost(c)) throw new AssertionError("staging reused before a synchronize: " + c + " over " + q);
            }
            queue.add(c);
            log.add(c);
        }

        @Override
        public void synchronizeStream() {
            syncs++;
            if (failNextSync != null) {
                DeviceException e = failNextSync;
                failNextSync = null;
                queue.clear();   // a failed stream: what was queued did not happen
                throw e;
            }
            for (Copy c : queue) {
                if (c.toDevice) MemorySegment.copy(c.host.segment, c.hostOffset, c.mem.bytes, c.memOffset, c.bytes);
                else MemorySegment.copy(c.mem.bytes, c.memOffset, c.host.segment, c.hostOffset, c.bytes);
            }
            queue.clear();
        }

        long liveHosts() {
            return hosts.stream().filter(h -> !h.freed).count();
        }
    }

    final FakeDriver driver = new FakeDriver();
    final Staging<FakeDriver.Host, FakeDriver.Mem> staging = new Staging<>(driver, CHUNK, ALIGN, FIRST);

    static byte[] random(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    static byte[] slice(byte[] a, long from, long n) {
        return Arrays.copyOfRange(a, (int) from, (int) (from + n));
    }

    /** The copies enqueued since {@code from} in the log, of one direction. */
    List<FakeDriver.Copy> copies(int from, boolean toDevice) {
        return driver.log.subList(from, driver.log.size()).stream().filter(c -> c.toDevice() == toDevice).toList();
    }

    /** Pieces of at most one chunk, in order, covering {@code [offset, offset + n)} of the device, at aligned slots. */
    static void assertPieces(List<FakeDriver.Copy> pieces, long offset, long n, long chunk, long align) {
        assertEquals((n + chunk - 1) / chunk, pieces.size(), "pieces");
        long at = offset;
        for (FakeDriver.Copy c : pieces) {
            assertEquals(at, c.memOffset(), "device offset of a piece");
            assertEquals(Math.min(chunk, offset + n - at), c.bytes(), "size of a piece");
            assertEquals(0, c.hostOffset() % align, "staging slot " + c.hostOffset() + " is not aligned to " + align);
            at += c.bytes();
        }
        assertEquals(offset + n, at);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200, 255, 256, 257, 1000})
    void roundTripSmallerEqualAndLargerThanAChunk(int n) {
        Random rnd = new Random(n);
        byte[] data = random(rnd, n);
        long offset = 7;
        FakeDriver.Mem mem = new FakeDriver.Mem(n + 100);

        int logAt = driver.log.size();
        staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(data), mem, offset);
        assertPieces(copies(logAt, true), offset, n, CHUNK, ALIGN);
        staging.synchronize();
        assertArrayEquals(data, slice(mem.toArray(), offset, n), "device after the upload");
        assertArrayEquals(filled((int) offset, 0), slice(mem.toArray(), 0, offset), "device before the range");
        assertArrayEquals(filled(100 - (int) offset, 0), slice(mem.toArray(), offset + n, 100 - offset),
                "device after the range");

        byte[] back = filled(n, 0x5A);
        logAt = driver.log.size();
        staging.download(Device.Stream.MAIN, mem, offset, MemorySegment.ofArray(back), false);
        assertPieces(copies(logAt, false), offset, n, CHUNK, ALIGN);
        if (n <= 2 * CHUNK) {   // fits staging without an internal synchronize: nothing may have landed yet
            assertArrayEquals(filled(n, 0x5A), back, "a download is visible only after a synchronize");
        }
        staging.synchronize();
        assertArrayEquals(data, back, "download");
        assertEquals(0, staging.pendingDownloads());
        assertTrue(staging.capacity() <= Staging.MAX_CHUNKS * CHUNK);
    }

    @Test
    void aDownloadLandsOnlyAtTheSynchronize() {
        FakeDriver.Mem mem = new FakeDriver.Mem(32);
        byte[] data = random(new Random(1), 32);
        staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(data), mem, 0);
        byte[] back = filled(32, 0x5A);
        staging.download(Device.Stream.MAIN, mem, 0, MemorySegment.ofArray(back), false);
        assertEquals(1, staging.pendingDownloads());
        assertArrayEquals(filled(32, 0x5A), back);
        staging.synchronize();
        assertArrayEquals(data, back);
    }

    @Test
    void unalignedOffsetsAndSlices() {
        Random rnd = new Random(2);
        byte[] whole = random(rnd, 500);
        FakeDriver.Mem mem = new FakeDriver.Mem(600);
        // source slices at odd positions, to odd device offsets, several in flight together
        long[][] copies = {{3, 1, 5}, {11, 37, 70}, {101, 200, 129}, {301, 450, 33}, {499, 599, 1}};
        int logAt = driver.log.size();
        for (long[] c : copies) {
            staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(whole).asSlice(c[0], c[2]), mem, c[1]);
        }
        for (FakeDriver.Copy c : copies(logAt, true)) assertEquals(0, c.hostOffset() % ALIGN);
        staging.synchronize();
        byte[] expected = new byte[600];
        for (long[] c : copies) System.arraycopy(whole, (int) c[0], expected, (int) c[1], (int) c[2]);
        assertArrayEquals(expected, mem.toArray());

        // downloads into slices at odd positions of one array: the bytes around each slice stay as they were
        byte[] back = filled(700, 0x5A);
        byte[] want = filled(700, 0x5A);
        long[][] downs = {{1, 3, 5}, {37, 9, 70}, {200, 99, 129}, {598, 400, 2}};
        logAt = driver.log.size();
        for (long[] d : downs) {
            staging.download(Device.Stream.MAIN, mem, d[0], MemorySegment.ofArray(back).asSlice(d[1], d[2]), false);
            System.arraycopy(expected, (int) d[0], want, (int) d[1], (int) d[2]);
        }
        for (FakeDriver.Copy c : copies(logAt, false)) assertEquals(0, c.hostOffset() % ALIGN);
        staging.synchronize();
        assertArrayEquals(want, back);
    }

    @Test
    void smallCopiesFillStagingThenSynchronizeAndGrow() {
        // 10-byte copies in 16-byte slots: 4 fit 64 bytes, 8 fit 128, 16 fit 256 (the cap: 4 chunks of 64)
        FakeDriver.Mem mem = new FakeDriver.Mem(10 * 60);
        byte[] all = random(new Random(3), 10 * 60);
        int[] syncsAfter = new int[61];
        for (int i = 0; i < 60; i++) {
            staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(all).asSlice(10L * i, 10), mem, 10L * i);
            syncsAfter[i + 1] = driver.syncs;
            FakeDriver.Copy c = driver.log.getLast();
            assertEquals(0, c.hostOffset() % ALIGN);
        }
        // the first copy synchronizes (no staging yet), then each time staging is full: copies 5, 13, 29, 45
        assertEquals(1, syncsAfter[1]);
        assertEquals(1, syncsAfter[4]);
        assertEquals(2, syncsAfter[5]);
        assertEquals(2, syncsAfter[12]);
        assertEquals(3, syncsAfter[13]);
        assertEquals(4, syncsAfter[29]);
        assertEquals(5, syncsAfter[45]);
        assertEquals(5, syncsAfter[60]);
        assertEquals(List.of(64L, 128L, 256L), driver.allocations);
        assertEquals(1, driver.liveHosts(), "the outgrown staging is freed");
        assertEquals(256, staging.capacity());
        // every slot of one fill is distinct: the 16 copies since the last synchronize are 0, 16, ..., 240
        List<Long> slots = driver.log.subList(44, 60).stream().map(FakeDriver.Copy::hostOffset).toList();
        for (int i = 0; i < 16; i++) assertEquals(16L * i, slots.get(i));
        staging.synchronize();
        assertArrayEquals(all, mem.toArray());
    }

    @Test
    void growthIsCappedAtFourChunks() {
        FakeDriver.Mem mem = new FakeDriver.Mem(CHUNK * 4);
        Random rnd = new Random(4);
        byte[] model = new byte[(int) (CHUNK * 4)];
        for (int i = 0; i < 200; i++) {
            int n = 1 + rnd.nextInt((int) CHUNK * 3);   // up to three chunks per call
            int at = rnd.nextInt(model.length - n + 1);
            byte[] data = random(rnd, n);
            staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(data), mem, at);
            System.arraycopy(data, 0, model, at, n);
            assertTrue(staging.capacity() <= Staging.MAX_CHUNKS * CHUNK, "capacity " + staging.capacity());
        }
        assertEquals(List.of(64L, 128L, 256L), driver.allocations);
        assertEquals(Staging.MAX_CHUNKS * CHUNK, staging.capacity());
        staging.synchronize();
        assertArrayEquals(model, mem.toArray());
    }

    @Test
    void aFirstPieceLargerThanTheFirstCapacityGetsItsOwnSize() {
        Staging<FakeDriver.Host, FakeDriver.Mem> s = new Staging<>(driver, CHUNK, ALIGN, 8);
        FakeDriver.Mem mem = new FakeDriver.Mem(100);
        s.upload(Device.Stream.MAIN, MemorySegment.ofArray(new byte[40]), mem, 0);   // 40 > 8: staging of 40
        s.upload(Device.Stream.MAIN, MemorySegment.ofArray(new byte[10]), mem, 0);   // 48 + 10 > 40: doubled to 80
        s.upload(Device.Stream.MAIN, MemorySegment.ofArray(new byte[64]), mem, 0);   // 16 + 64 fits 80 exactly
        s.upload(Device.Stream.MAIN, MemorySegment.ofArray(new byte[64]), mem, 0);   // 80 + 64 > 80: 160
        s.upload(Device.Stream.MAIN, MemorySegment.ofArray(new byte[64]), mem, 0);   // 64 + 64 fits 160
        s.upload(Device.Stream.MAIN, MemorySegment.ofArray(new byte[64]), mem, 0);   // 128 + 64 > 160: min(320, 256)
        for (int i = 0; i < 10; i++) s.upload(Device.Stream.MAIN, MemorySegment.ofArray(new byte[64]), mem, 0);   // stays 256
        assertEquals(List.of(40L, 80L, 160L, 256L), driver.allocations);
        List<Long> slots = driver.log.stream().map(FakeDriver.Copy::hostOffset).toList();
        assertEquals(List.of(0L, 0L, 16L, 0L, 64L, 0L, 64L, 128L, 192L, 0L), slots.subList(0, 10));
        s.synchronize();
    }

    @Test
    void aDownloadThenAnUploadOfTheSameBytesBeforeSynchronizing() {
        Random rnd = new Random(5);
        FakeDriver.Mem mem = new FakeDriver.Mem(300);
        byte[] before = random(rnd, 300);
        staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(before), mem, 0);
        staging.synchronize();

        // stream order: the download reads the old bytes, then the upload overwrites them
        byte[] back = filled(150, 0x5A);
        byte[] after = random(rnd, 150);
        staging.download(Device.Stream.MAIN, mem, 100, MemorySegment.ofArray(back), false);
        staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(after), mem, 100);
        staging.synchronize();
        assertArrayEquals(slice(before, 100, 150), back, "the download saw the bytes before the upload");
        assertArrayEquals(after, slice(mem.toArray(), 100, 150), "the upload landed after the download");
    }

    @Test
    void aPendingDownloadSurvivesStagingBeingReplaced() {
        FakeDriver.Mem mem = new FakeDriver.Mem(200);
        byte[] old = random(new Random(6), 200);
        staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(old), mem, 0);
        staging.synchronize();
        assertEquals(256, staging.capacity());

        Staging<FakeDriver.Host, FakeDriver.Mem> s = new Staging<>(driver, CHUNK, ALIGN, FIRST);
        byte[] back = filled(10, 0x5A);
        s.download(Device.Stream.MAIN, mem, 50, MemorySegment.ofArray(back), false);   // in the first staging (64 bytes) at 0
        byte[] fresh = random(new Random(7), 64);
        s.upload(Device.Stream.MAIN, MemorySegment.ofArray(fresh), mem, 50);    // 16 + 64 > 64: synchronize, free, allocate 128
        assertArrayEquals(slice(old, 50, 10), back, "copied out of the old staging before it was freed");
        assertEquals(0, s.pendingDownloads());
        s.synchronize();
        assertArrayEquals(fresh, slice(mem.toArray(), 50, 64));
        assertArrayEquals(slice(old, 50, 10), back);
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 22, 33, 44, 55})
    void randomCopiesMatchAModel(long seed) {
        randomCopies(seed, staging);
        assertTrue(staging.capacity() <= Staging.MAX_CHUNKS * CHUNK);
    }

    /**
     * The same with staging as roomy as in production (its first allocation holds many pieces), where a wrong slot
     * stays inside the pinned memory: only the bytes that land can tell.
     */
    @ParameterizedTest
    @ValueSource(longs = {66, 77, 88})
    void randomCopiesMatchAModelInRoomyStaging(long seed) {
        randomCopies(seed, new Staging<>(driver, CHUNK, ALIGN, 1L << 14));
        assertEquals(List.of(1L << 14), driver.allocations);
    }

    void randomCopies(long seed, Staging<FakeDriver.Host, FakeDriver.Mem> staging) {
        Random rnd = new Random(seed);
        FakeDriver.Mem[] mems = {new FakeDriver.Mem(1000), new FakeDriver.Mem(3001)};
        byte[][] models = {new byte[1000], new byte[3001]};
        List<byte[][]> pending = new ArrayList<>();   // {destination, expected}
        for (int op = 0; op < 600; op++) {
            int which = rnd.nextInt(2);
            byte[] model = models[which];
            int n = rnd.nextInt(5) == 0 ? rnd.nextInt(400) : rnd.nextInt(40);
            int at = rnd.nextInt(model.length - n + 1);
            switch (rnd.nextInt(10)) {
                case 0 -> {
                    staging.synchronize();
                    for (byte[][] p : pending) assertArrayEquals(p[1], p[0], "seed " + seed + ", op " + op);
                    pending.clear();
                }
                case 1, 2, 3, 4 -> {
                    byte[] dst = filled(n + 6, 0x5A);
                    byte[] want = filled(n + 6, 0x5A);
                    System.arraycopy(model, at, want, 3, n);   // as of now, in stream order
                    staging.download(Device.Stream.MAIN, mems[which], at, MemorySegment.ofArray(dst).asSlice(3, n), false);
                    pending.add(new byte[][] {dst, want});
                }
                default -> {
                    byte[] data = random(rnd, n + 5);
                    int from = rnd.nextInt(6);
                    staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(data).asSlice(from, n), mems[which], at);
                    System.arraycopy(data, from, model, at, n);
                }
            }
        }
        staging.synchronize();
        for (byte[][] p : pending) assertArrayEquals(p[1], p[0]);
        for (int i = 0; i < 2; i++) assertArrayEquals(models[i], mems[i].toArray(), "device " + i);
        for (FakeDriver.Copy c : driver.log) {
            assertEquals(0, c.hostOffset() % ALIGN);
            assertTrue(c.bytes() <= CHUNK);
        }
    }

    @Test
    void productionSizes() {
        assertEquals(64L << 20, Staging.CHUNK);
        assertEquals(256, Staging.ALIGN);
        assertEquals(1L << 20, Staging.FIRST_CAPACITY);
        assertEquals(4, Staging.MAX_CHUNKS);

        Staging<FakeDriver.Host, FakeDriver.Mem> s = new Staging<>(driver);
        long n = Staging.CHUNK + 3;
        FakeDriver.Mem mem = new FakeDriver.Mem(n + 1000);
        byte[] small = random(new Random(8), 300);
        for (int i = 0; i < 3; i++) s.upload(Device.Stream.MAIN, MemorySegment.ofArray(small).asSlice(i, 100), mem, n + 10 + 100L * i);
        assertEquals(List.of(0L, 256L, 512L), driver.log.stream().map(FakeDriver.Copy::hostOffset).toList());
        assertEquals(List.of(1L << 20), driver.allocations);

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment big = arena.allocate(n, 8);
            Random rnd = new Random(9);
            for (long i = 0; i < n / 8; i++) big.setAtIndex(ValueLayout.JAVA_LONG, i, rnd.nextLong());
            big.set(ValueLayout.JAVA_BYTE, n - 1, (byte) 77);
            int logAt = driver.log.size();
            s.upload(Device.Stream.MAIN, big, mem, 1);
            assertPieces(copies(logAt, true), 1, n, Staging.CHUNK, Staging.ALIGN);
            // 768 + 64 MiB does not fit 1 MiB: a chunk's worth; then the 3-byte tail does not fit: doubled
            assertEquals(List.of(1L << 20, 64L << 20, 128L << 20), driver.allocations);

            MemorySegment back = arena.allocate(n, 8);
            logAt = driver.log.size();
            s.download(Device.Stream.MAIN, mem, 1, back, false);
            assertPieces(copies(logAt, false), 1, n, Staging.CHUNK, Staging.ALIGN);
            s.synchronize();
            assertEquals(-1, big.mismatch(back), "production-sized round trip");
            assertEquals(-1, big.mismatch(mem.bytes.asSlice(1, n)));
            assertEquals(List.of(1L << 20, 64L << 20, 128L << 20), driver.allocations);
        }
        assertArrayEquals(slice(small, 0, 100), mem.bytes.asSlice(n + 10, 100).toArray(ValueLayout.JAVA_BYTE));
        FakeDriver.Host h = s.release();
        driver.freeHost(h);
    }

    @Test
    void aFailedSynchronizeDropsPendingDownloadsAndFreesTheSlots() {
        FakeDriver.Mem mem = new FakeDriver.Mem(100);
        byte[] data = random(new Random(10), 100);
        staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(data), mem, 0);
        staging.synchronize();

        byte[] back = filled(20, 0x5A);
        staging.download(Device.Stream.MAIN, mem, 0, MemorySegment.ofArray(back), false);
        driver.failNextSync = new DeviceException("cuStreamSynchronize failed: CUDA_ERROR_ILLEGAL_ADDRESS");
        DeviceException e = assertThrows(DeviceException.class, staging::synchronize);
        assertTrue(e.getMessage().startsWith("cuStreamSynchronize"));
        assertEquals(0, staging.pendingDownloads());
        assertArrayEquals(filled(20, 0x5A), back, "nothing copied out after a failed synchronize");

        int logAt = driver.log.size();
        staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(data).asSlice(0, 5), mem, 0);
        assertEquals(0, driver.log.get(logAt).hostOffset(), "staging starts over after a failed synchronize");
        staging.synchronize();
        assertArrayEquals(filled(20, 0x5A), back, "the dropped download stays dropped");
    }

    @Test
    void emptyCopiesDoNothing() {
        FakeDriver.Mem mem = new FakeDriver.Mem(10);
        staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(new byte[0]), mem, 10);
        staging.download(Device.Stream.MAIN, mem, 10, MemorySegment.ofArray(new byte[0]), false);
        assertTrue(driver.log.isEmpty());
        assertTrue(driver.allocations.isEmpty());
        assertEquals(0, driver.syncs);
        assertEquals(0, staging.pendingDownloads());
    }

    @Test
    void releaseHandsTheStagingToTheCaller() {
        assertNull(staging.release());
        FakeDriver.Mem mem = new FakeDriver.Mem(10);
        staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(new byte[10]), mem, 0);
        staging.download(Device.Stream.MAIN, mem, 0, MemorySegment.ofArray(new byte[10]), false);
        FakeDriver.Host h = driver.hosts.getFirst();
        assertSame(h, staging.release());
        assertFalse(h.freed, "release does not free: the caller does, its own way");
        assertEquals(0, staging.capacity());
        assertEquals(0, staging.pendingDownloads());
        assertNull(staging.release());
        driver.synchronizeStream();
        driver.freeHost(h);
    }

    /** The point of the split: Staging loads and runs without JCuda (and its natives). */
    @Test
    void stagingDoesNotLinkJCuda() throws IOException {
        for (String name : List.of("Staging", "Staging$Driver", "Staging$Pinned")) {
            try (InputStream in = Staging.class.getResourceAsStream(name + ".class")) {
                assertNotNull(in, name);
                String constants = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
                assertFalse(constants.contains("jcuda"), name + " refers to JCuda");
            }
        }
    }

    @Test
    void registeredMemoryIsCopiedDirectlyAndAddingDownloadsAreStaged() {
        Staging.Pinned<FakeDriver.Host> handed = driver.allocateHost(256);
        staging.register(handed);
        FakeDriver.Mem mem = new FakeDriver.Mem(300);
        byte[] data = random(new Random(11), 100);
        MemorySegment.copy(MemorySegment.ofArray(data), 0, handed.segment(), 20, 100);
        int logAt = driver.log.size();
        staging.upload(Device.Stream.COPY, handed.segment().asSlice(20, 100), mem, 5);
        staging.download(Device.Stream.COPY, mem, 5, handed.segment().asSlice(150, 100), false);
        assertEquals(List.of(new FakeDriver.Copy(true, handed.handle(), 20, mem, 5, 100),
                new FakeDriver.Copy(false, handed.handle(), 150, mem, 5, 100)), driver.log.subList(logAt, driver.log.size()),
                "one direct copy each way, whatever the chunk size");
        assertEquals(0, staging.capacity(), "no staging");
        staging.synchronize();
        assertArrayEquals(data, handed.segment().asSlice(150, 100).toArray(ValueLayout.JAVA_BYTE));

        // adding: staged (a DMA would overwrite), then added as floats
        float[] add = {1.5f, -2f, 0.25f};
        MemorySegment.copy(MemorySegment.ofArray(add), 0, mem.bytes, 0, 12);
        MemorySegment onto = handed.segment().asSlice(0, 12);
        onto.copyFrom(MemorySegment.ofArray(new float[] {1f, 1f, 1f}));
        staging.download(Device.Stream.MAIN, mem, 0, onto, true);
        assertTrue(staging.capacity() > 0, "an adding download goes through staging");
        assertArrayEquals(new float[] {1f, 1f, 1f}, onto.toArray(ValueLayout.JAVA_FLOAT), "not before a synchronize");
        staging.synchronize();
        assertArrayEquals(new float[] {2.5f, -1f, 1.25f}, onto.toArray(ValueLayout.JAVA_FLOAT));

        assertTrue(staging.unregister(handed));
        assertFalse(staging.unregister(handed), "only once");
        logAt = driver.log.size();
        staging.upload(Device.Stream.MAIN, handed.segment().asSlice(20, 100), mem, 5);
        assertTrue(driver.log.get(logAt).host() != handed.handle(), "unregistered memory is staged");
        staging.synchronize();
        driver.freeHost(handed.handle());
    }

    @Test
    void completingAStreamsDownloadsCopiesOutOnlyThoseIssuedBeforeTheMark() {
        FakeDriver.Mem mem = new FakeDriver.Mem(30);
        byte[] data = random(new Random(12), 30);
        staging.upload(Device.Stream.MAIN, MemorySegment.ofArray(data), mem, 0);
        staging.synchronize();
        byte[] a = filled(10, 0), b = filled(10, 0), c = filled(10, 0);
        staging.download(Device.Stream.COPY, mem, 0, MemorySegment.ofArray(a), false);
        long mark = staging.downloadsIssued(Device.Stream.COPY);
        assertEquals(1, mark);
        staging.download(Device.Stream.COPY, mem, 10, MemorySegment.ofArray(b), false);
        staging.download(Device.Stream.MAIN, mem, 20, MemorySegment.ofArray(c), false);
        driver.synchronizeStream();   // what waiting for the mark's event does (here: every copy landed)
        staging.completeDownloads(Device.Stream.COPY, mark);
        assertArrayEquals(slice(data, 0, 10), a, "issued before the mark: copied out");
        assertArrayEquals(filled(10, 0), b, "issued after the mark: waits");
        assertArrayEquals(filled(10, 0), c, "another stream: waits");
        assertEquals(2, staging.pendingDownloads());
        staging.synchronize();
        assertArrayEquals(slice(data, 10, 10), b);
        assertArrayEquals(slice(data, 20, 10), c);
    }
}
