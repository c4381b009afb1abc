package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the CUDA backend relies on from a {@link Device}, checked on each implementation: copies, stream order,
 * kernel launches, errors that name the CUDA call, and buffers that are freed.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
abstract class DeviceContractTest {
    protected Device device;

    /** A fresh device; a subclass without one (no GPU) skips here with the reason. */
    abstract Device open();

    @BeforeEach
    void openDevice() {
        device = open();
    }

    @AfterEach
    void closeDevice() {
        if (device != null) device.close();
    }

    static float[] sequence(int n, float start) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = start + i;
        return a;
    }

    @Test
    void uploadAndDownloadRoundTripAtOffsets() {
        float[] src = sequence(10, 1);
        float[] back = new float[6];
        try (DeviceBuffer b = device.allocate(64 * Float.BYTES)) {
            device.upload(MemorySegment.ofArray(src), b, 8 * Float.BYTES);
            device.download(b, 10 * Float.BYTES, MemorySegment.ofArray(back));
            device.synchronize();
        }
        assertArrayEquals(Arrays.copyOfRange(src, 2, 8), back);
    }

    @Test
    void copiesLargerThanOneStagingPieceArriveWhole() {
        int n = 20_000_003;   // 80 MB: more than one 64 MiB staging piece, and an odd tail
        float[] src = new float[n];
        for (int i = 0; i < n; i++) src[i] = i * 0.5f;
        float[] back = new float[n];
        try (DeviceBuffer b = device.allocate((long) n * Float.BYTES)) {
            device.upload(MemorySegment.ofArray(src), b, 0);
            device.download(b, 0, MemorySegment.ofArray(back));
            device.synchronize();
        }
        assertArrayEquals(src, back);
    }

    @Test
    void uploadReadsItsSourceWhenCalled() {
        float[] src = sequence(4, 5);
        float[] back = new float[4];
        try (DeviceBuffer b = device.allocate(4 * Float.BYTES)) {
            device.upload(MemorySegment.ofArray(src), b, 0);
            Arrays.fill(src, -1);   // the caller may reuse its buffer at once
            device.download(b, 0, MemorySegment.ofArray(back));
            device.synchronize();
        }
        assertArrayEquals(sequence(4, 5), back);
    }

    @Test
    void operationsRunInIssueOrder() {
        float[] back = new float[4];
        try (DeviceBuffer b = device.allocate(4 * Float.BYTES)) {
            device.upload(MemorySegment.ofArray(sequence(4, 1)), b, 0);
            device.fillZero(b, Float.BYTES, 2 * Float.BYTES);
            device.download(b, 0, MemorySegment.ofArray(back));
            device.upload(MemorySegment.ofArray(sequence(4, 9)), b, 0);   // after the download: not seen by it
            device.synchronize();
        }
        assertArrayEquals(new float[] {1, 0, 0, 4}, back);
    }

    @Test
    void packKernelPutsGateRowsInPackedOrder() {
        int hidden = 3, k = 2;
        float[] rows = new float[4 * hidden * k];
        for (int r = 0; r < 4 * hidden; r++) for (int c = 0; c < k; c++) rows[r * k + c] = 100 * r + c;
        float[] packed = new float[rows.length];
        Kernels kernels = new Kernels(device);
        try (DeviceBuffer src = device.allocate(rows.length * Float.BYTES);
             DeviceBuffer dst = device.allocate(rows.length * Float.BYTES)) {
            device.upload(MemorySegment.ofArray(rows), src, 0);
            kernels.packGateRows(hidden, k, src, null, dst);
            device.download(dst, 0, MemorySegment.ofArray(packed));
            device.synchronize();
        }
        for (int j = 0; j < hidden; j++) {
            for (int g = 0; g < 4; g++) {
                for (int c = 0; c < k; c++) {
                    assertEquals(100 * (g * hidden + j) + c, packed[(4 * j + g) * k + c], "packed row " + (4 * j + g));
                }
            }
        }
    }

    @Test
    void aChainRunsInStreamOrderAndAgainOnNewData() {
        int hidden = 2, k = 1;
        float[] packed = new float[4 * hidden], again = new float[4 * hidden];
        Kernels kernels = new Kernels(device);
        try (DeviceBuffer src = device.allocate(packed.length * Float.BYTES);
             DeviceBuffer dst = device.allocate(packed.length * Float.BYTES)) {
            device.upload(MemorySegment.ofArray(sequence(8, 0)), src, 0);
            device.run(kernels.record(() -> kernels.packGateRows(hidden, k, src, null, dst)));
            device.download(dst, 0, MemorySegment.ofArray(packed));
            device.upload(MemorySegment.ofArray(sequence(8, 10)), src, 0);   // after the chain: not seen by it
            device.run(kernels.record(() -> kernels.packGateRows(hidden, k, src, null, dst)));   // equal: a replay
            device.download(dst, 0, MemorySegment.ofArray(again));
            device.synchronize();
        }
        // packed row 4j+g = row g·H+j
        assertArrayEquals(new float[] {0, 2, 4, 6, 1, 3, 5, 7}, packed);
        assertArrayEquals(new float[] {10, 12, 14, 16, 11, 13, 15, 17}, again);
    }

    @Test
    void aChainWithAnInvalidLaunchNamesTheCall() {
        DeviceKernel pack = device.kernel("lstmk_pack_gate_rows");
        try (DeviceBuffer b = device.allocate(16)) {
            KernelArgs args = new KernelArgs().i32(1).i32(1).ptr(b).ptr((DeviceBuffer) null).ptr(b);
            LaunchChain chain = new LaunchChain(java.util.List.of(
                    new LaunchChain.Launch(pack, Dim3.of(1), Dim3.of(2048), 0, args)));
            DeviceException e = assertThrows(DeviceException.class, () -> {
                device.run(chain);
                device.synchronize();
            });
            assertTrue(e.getMessage().contains("cuLaunchKernel(lstmk_pack_gate_rows"), e.getMessage());
        }
    }

    @Test
    void aCooperativeLaunchRunsAndOneThatDoesNotFitIsRefused() {
        DeviceKernel pack = device.kernel("lstmk_pack_gate_rows");
        int limit = device.maxCooperativeBlocks(pack, 256);
        assertTrue(limit > 0, "the device launches cooperatively: " + limit);
        float[] packed = new float[8];
        try (DeviceBuffer src = device.allocate(8 * Float.BYTES); DeviceBuffer dst = device.allocate(8 * Float.BYTES)) {
            device.upload(MemorySegment.ofArray(sequence(8, 0)), src, 0);
            device.launchCooperative(pack, Dim3.of(1), Dim3.of(256), 0,
                    new KernelArgs().i32(2).i32(1).ptr(src).ptr((DeviceBuffer) null).ptr(dst));
            device.download(dst, 0, MemorySegment.ofArray(packed));
            device.synchronize();
            assertArrayEquals(new float[] {0, 2, 4, 6, 1, 3, 5, 7}, packed);
            DeviceException e = assertThrows(DeviceException.class, () -> {
                device.launchCooperative(pack, Dim3.of(limit + 1), Dim3.of(256), 0,
                        new KernelArgs().i32(2).i32(1).ptr(src).ptr((DeviceBuffer) null).ptr(dst));
                device.synchronize();
            });
            assertTrue(e.getMessage().contains("cuLaunchCooperativeKernel(lstmk_pack_gate_rows"), e.getMessage());
        }
    }

    @Test
    void unknownKernelNamesTheCall() {
        DeviceException e = assertThrows(DeviceException.class, () -> device.kernel("lstmk_no_such_kernel"));
        assertTrue(e.getMessage().contains("cuModuleGetFunction(lstmk_no_such_kernel)"), e.getMessage());
    }

    @Test
    void invalidLaunchConfigurationNamesTheCall() {
        DeviceKernel pack = device.kernel("lstmk_pack_gate_rows");
        try (DeviceBuffer b = device.allocate(16)) {
            KernelArgs args = new KernelArgs().i32(1).i32(1).ptr(b).ptr((DeviceBuffer) null).ptr(b);
            DeviceException e = assertThrows(DeviceException.class,
                    () -> device.launch(pack, Dim3.of(1), Dim3.of(2048), 0, args));
            assertTrue(e.getMessage().contains("cuLaunchKernel(lstmk_pack_gate_rows"), e.getMessage());
        }
    }

    @Test
    void outOfRangeCopiesAreRejected() {
        try (DeviceBuffer b = device.allocate(16)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> device.upload(MemorySegment.ofArray(new float[4]), b, 4));
            assertTrue(e.getMessage().contains("cuMemcpyHtoDAsync"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> device.download(b, 8, MemorySegment.ofArray(new float[4])));
            assertThrows(IllegalArgumentException.class, () -> device.fillZero(b, 0, 17));
        }
    }

    @Test
    void closedBuffersAreFreedAndRejected() {
        long before = device.liveAllocations();
        DeviceBuffer b = device.allocate(1024);
        assertEquals(before + 1, device.liveAllocations());
        b.close();
        b.close();   // idempotent
        assertEquals(before, device.liveAllocations());
        assertTrue(b.isClosed());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> device.upload(MemorySegment.ofArray(new float[1]), b, 0));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    @Test
    void repeatedAllocationsDoNotLeak() {
        long before = device.liveAllocations();
        for (int i = 0; i < 50; i++) {
            try (DeviceBuffer b = device.allocate(4096L * (i + 1))) {
                device.fillZero(b, 0, b.bytes());
            }
        }
        device.synchronize();
        assertEquals(before, device.liveAllocations());
    }

    @Test
    void theCopyStreamIsOrderedWithTheMainStreamByMarks() {
        float[] back = new float[4], back2 = new float[4];
        try (DeviceBuffer b = device.allocate(4 * Float.BYTES); DeviceBuffer b2 = device.allocate(4 * Float.BYTES)) {
            device.upload(MemorySegment.ofArray(sequence(4, 1)), b, 0);
            device.fillZero(b, Float.BYTES, Float.BYTES);
            device.await(Device.Stream.COPY, device.mark(Device.Stream.MAIN));
            device.download(Device.Stream.COPY, b, 0, MemorySegment.ofArray(back));

            device.upload(Device.Stream.COPY, MemorySegment.ofArray(sequence(4, 9)), b2, 0);
            Device.Mark up = device.mark(Device.Stream.COPY);
            assertEquals(Device.Stream.COPY, up.stream());
            device.await(Device.Stream.MAIN, up);
            device.download(b2, 0, MemorySegment.ofArray(back2));
            device.synchronize();
        }
        assertArrayEquals(new float[] {1, 0, 3, 4}, back, "the copy stream waited for the main stream's fill");
        assertArrayEquals(sequence(4, 9), back2, "the main stream waited for the copy stream's upload");
    }

    @Test
    void aMarkIsSpentBySynchronize() {
        Device.Mark m = device.mark(Device.Stream.MAIN);
        device.synchronize();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> device.await(Device.Stream.COPY, m));
        assertTrue(e.getMessage().contains("cuStreamWaitEvent"), e.getMessage());
    }

    @Test
    void downloadAddingAddsOntoTheDestinationWithOneRounding() {
        float[] src = {1e-8f, 3f, -0.1f, Float.MAX_VALUE, 7f};
        float[] dst = {1f, 0.25f, 0.3f, Float.MAX_VALUE, 11f};
        float[] expected = new float[4];
        for (int i = 0; i < 4; i++) expected[i] = dst[i] + src[i];
        try (DeviceBuffer b = device.allocate(5 * Float.BYTES)) {
            device.upload(MemorySegment.ofArray(src), b, 0);
            device.downloadAdding(b, 0, MemorySegment.ofArray(dst).asSlice(0, 4 * Float.BYTES));
            assertEquals(1f, dst[0], "nothing lands before the synchronize");
            device.synchronize();
        }
        assertArrayEquals(expected, java.util.Arrays.copyOf(dst, 4));
        assertEquals(Float.POSITIVE_INFINITY, dst[3]);
        assertEquals(11f, dst[4], "only the destination's floats");
    }

    @Test
    void pinnedHostMemoryCopiesBothWaysAndIsFreedWithItsArena() {
        MemorySegment pinned;
        try (Arena arena = Arena.ofConfined(); DeviceBuffer b = device.allocate(64 * Float.BYTES)) {
            pinned = device.allocateHost(64 * Float.BYTES, arena);
            assertEquals(64 * Float.BYTES, pinned.byteSize());
            assertEquals(0, pinned.address() % 64, "64-byte aligned");
            for (int i = 0; i < 64; i++) assertEquals(0f, pinned.getAtIndex(ValueLayout.JAVA_FLOAT, i), "zeroed");
            for (int i = 0; i < 32; i++) pinned.setAtIndex(ValueLayout.JAVA_FLOAT, i, i + 0.5f);
            device.upload(Device.Stream.COPY, pinned.asSlice(0, 32 * Float.BYTES), b, 8 * Float.BYTES);
            device.await(Device.Stream.MAIN, device.mark(Device.Stream.COPY));
            device.download(b, 8 * Float.BYTES, pinned.asSlice(32 * Float.BYTES, 32 * Float.BYTES));
            device.synchronize();
            for (int i = 0; i < 32; i++) {
                assertEquals(i + 0.5f, pinned.getAtIndex(ValueLayout.JAVA_FLOAT, 32 + i), "element " + i);
            }
        }
        assertTrue(!pinned.scope().isAlive(), "freed with the arena");
    }

    @Test
    void completeLandsTheDownloadsIssuedBeforeItsMark() {
        float[] early = new float[4], late = new float[4];
        try (DeviceBuffer b = device.allocate(4 * Float.BYTES)) {
            device.upload(MemorySegment.ofArray(sequence(4, 1)), b, 0);
            device.await(Device.Stream.COPY, device.mark(Device.Stream.MAIN));
            device.download(Device.Stream.COPY, b, 0, MemorySegment.ofArray(early));
            Device.Mark m = device.mark(Device.Stream.COPY);
            device.download(Device.Stream.COPY, b, 0, MemorySegment.ofArray(late));
            device.complete(m);
            assertArrayEquals(sequence(4, 1), early, "landed by complete");
            device.await(Device.Stream.MAIN, m);   // still valid after complete
            device.await(Device.Stream.MAIN, device.mark(Device.Stream.COPY));   // after the late download
            device.fillZero(b, 0, 4);
            device.synchronize();
        }
        assertArrayEquals(sequence(4, 1), late, "landed by synchronize");
    }
}
