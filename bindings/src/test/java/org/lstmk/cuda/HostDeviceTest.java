package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/**
 * The device contract on the host build, plus what only the host build can check: argument lists against the
 * kernels' C++ signatures, out-of-bounds writes, and that memory nothing wrote reads as NaN. Never skipped: if the
 * host library is missing, {@link #open()} fails and so does every test.
 */
class HostDeviceTest extends DeviceContractTest {
    @Override
    Device open() {
        return new HostDevice();
    }

    @Test
    void argumentsThatDoNotMatchTheKernelAreRejected() {
        DeviceKernel pack = device.kernel("lstmk_pack_gate_rows");
        try (DeviceBuffer b = device.allocate(16)) {
            KernelArgs tooFew = new KernelArgs().i32(1).i32(1).ptr(b);
            DeviceException e = assertThrows(DeviceException.class,
                    () -> device.launch(pack, Dim3.of(1), Dim3.of(32), 0, tooFew));
            assertTrue(e.getMessage().contains("takes arguments (iippp) but was given (iip)"), e.getMessage());
        }
    }

    @Test
    void dynamicSharedMemoryIsRejected() {
        DeviceKernel pack = device.kernel("lstmk_pack_gate_rows");
        try (DeviceBuffer b = device.allocate(16)) {
            KernelArgs args = new KernelArgs().i32(1).i32(1).ptr(b).ptr((DeviceBuffer) null).ptr(b);
            DeviceException e = assertThrows(DeviceException.class,
                    () -> device.launch(pack, Dim3.of(1), Dim3.of(32), 1024, args));
            assertTrue(e.getMessage().contains("dynamic shared memory (1024 bytes) is not supported"), e.getMessage());
        }
    }

    @Test
    void aBlockOverTheKernelsLaunchBoundsIsRejected() {
        // A GPU refuses a block larger than the kernel's __launch_bounds__, however far under 1024 threads it is.
        int bound = KernelGeometry.load().packThreads();
        DeviceKernel pack = device.kernel("lstmk_pack_gate_rows");
        try (DeviceBuffer b = device.allocate(16)) {
            KernelArgs args = new KernelArgs().i32(1).i32(1).ptr(b).ptr((DeviceBuffer) null).ptr(b);
            device.launch(pack, Dim3.of(1), Dim3.of(bound), 0, args);
            device.synchronize();
            DeviceException e = assertThrows(DeviceException.class,
                    () -> device.launch(pack, Dim3.of(1), Dim3.of(bound + 1), 0, args));
            assertTrue(e.getMessage().contains("more than the kernel's __launch_bounds__(" + bound + ")"),
                    e.getMessage());
        }
    }

    @Test
    void blockLanesAreClamped() {
        int lanes = HostDevice.blockLanes();
        try {
            HostDevice.blockLanes(0);
            assertEquals(1, HostDevice.blockLanes());
            HostDevice.blockLanes(100);
            assertEquals(8, HostDevice.blockLanes());
        } finally {
            HostDevice.blockLanes(lanes);
        }
    }

    @Test
    void aKernelWritingOutOfBoundsFailsAtSynchronize() {
        DeviceKernel pack = device.kernel("lstmk_pack_gate_rows");
        try (DeviceBuffer src = device.allocate(4 * Float.BYTES); DeviceBuffer dst = device.allocate(2 * Float.BYTES)) {
            device.fillZero(src, 0, src.bytes());
            // H = 1, K = 1: writes 4 floats into a buffer of two. The two extra land in the allocation's tail before
            // its PROT_NONE page (the size rounded up to 16 bytes), where the guard check sees them; a write further
            // out would crash the process at the write, like a read past the end.
            device.launch(pack, Dim3.of(1), Dim3.of(32), 0,
                    new KernelArgs().i32(1).i32(1).ptr(src).ptr((DeviceBuffer) null).ptr(dst));
            DeviceException e = assertThrows(DeviceException.class, device::synchronize);
            assertTrue(e.getMessage().contains("cuStreamSynchronize failed after cuLaunchKernel(lstmk_pack_gate_rows"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("wrote outside a buffer"), e.getMessage());
            assertThrows(DeviceException.class, dst::close);   // the damaged guard is reported again on free
        }
        assertEquals(0, device.liveAllocations());
    }

    @Test
    void freshMemoryReadsAsNaN() {
        float[] back = new float[3];
        try (DeviceBuffer b = device.allocate(3 * Float.BYTES)) {
            device.download(b, 0, MemorySegment.ofArray(back));
            device.synchronize();
        }
        for (float v : back) assertTrue(Float.isNaN(v), "fresh device memory should be NaN, was " + v);
    }

    @Test
    void downloadsLandOnlyAtSynchronize() {
        float[] back = {7, 7};
        try (DeviceBuffer b = device.allocate(2 * Float.BYTES)) {
            device.fillZero(b, 0, b.bytes());
            device.download(b, 0, MemorySegment.ofArray(back));
            assertEquals(7, back[0], "the host build defers like a stream: nothing lands before synchronize");
            device.synchronize();
        }
        assertEquals(0, back[0]);
    }

    @Test
    void closingTheDeviceFreesWhatIsLeft() {
        long before = HostDevice.processLiveAllocations();
        Device d = new HostDevice();
        d.allocate(100);
        d.allocate(200);
        assertEquals(before + 2, HostDevice.processLiveAllocations());
        d.close();
        assertEquals(before, HostDevice.processLiveAllocations());
        assertThrows(IllegalStateException.class, () -> d.allocate(1));
    }

    /** What makes the overlap tests able to fail: a copy that does not wait for its mark runs too early here. */
    @Test
    void aMissingWaitShowsInOneOfTheStreamOrders() {
        float[] back = new float[2];
        try (DeviceBuffer b = device.allocate(2 * Float.BYTES)) {
            for (HostDevice.StreamOrder order : HostDevice.StreamOrder.values()) {
                if (order == HostDevice.StreamOrder.ALTERNATE) continue;
                HostDevice.streamOrder(order);
                try {
                    device.upload(MemorySegment.ofArray(new float[] {1, 2}), b, 0);
                    device.synchronize();
                    device.fillZero(b, 0, 2 * Float.BYTES);   // main stream
                    device.download(Device.Stream.COPY, b, 0, MemorySegment.ofArray(back));   // no await
                    device.synchronize();
                    assertEquals(order == HostDevice.StreamOrder.COPY_FIRST ? 1f : 0f, back[0], order.toString());
                } finally {
                    HostDevice.streamOrder(HostDevice.StreamOrder.ALTERNATE);
                }
            }
        }
    }

    @Test
    void pinnedMemoryIsReadWhenTheUploadRunsOtherMemoryWhenIssued() {
        float[] back = new float[2], back2 = new float[2];
        float[] heap = {1, 2};
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined();
             DeviceBuffer b = device.allocate(2 * Float.BYTES); DeviceBuffer b2 = device.allocate(2 * Float.BYTES)) {
            MemorySegment pinned = device.allocateHost(2 * Float.BYTES, arena);
            pinned.copyFrom(MemorySegment.ofArray(heap));
            device.upload(pinned, b, 0);
            device.upload(MemorySegment.ofArray(heap), b2, 0);
            pinned.fill((byte) 0);
            heap[0] = 9;
            device.download(b, 0, MemorySegment.ofArray(back));
            device.download(b2, 0, MemorySegment.ofArray(back2));
            device.synchronize();
        }
        assertEquals(0f, back[0], "a DMA from pinned memory reads it when it runs");
        assertEquals(1f, back2[0], "ordinary memory is staged when the upload is issued");
    }
}
