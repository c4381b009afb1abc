package org.lstmk.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The .npy reader and writer against numpy's own files (the fixtures) and the documented format's corners. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class NpyTest {
    @TempDir Path tmp;

    @Test
    void readsNumpysFiles() throws IOException {
        Npy.FloatArray x = Npy.readFloat32(Fixtures.file("bi2.x.npy"));
        assertArrayEquals(new long[] {6, 4, 5}, x.shape());
        assertEquals(120, x.data().length);
        Npy.FloatArray bf = Npy.readFloat32(Fixtures.file("prefixed.x.npy"));
        assertArrayEquals(new long[] {4, 6, 5}, bf.shape());
        assertArrayEquals(new long[] {4}, Npy.readIntegers(Fixtures.file("bi2.lengths.npy")).shape());
    }

    /** What we write is byte for byte what np.save wrote for the same array. */
    @Test
    void writesWhatNumpyWrites() throws IOException {
        for (String name : new String[] {"bi2.x.npy", "proj.y.npy", "lstm1.h_n.npy"}) {
            Path theirs = Fixtures.file(name);
            Npy.FloatArray a = Npy.readFloat32(theirs);
            Path ours = tmp.resolve(name);
            Npy.writeFloat32(ours, a.shape(), a.data());
            assertArrayEquals(Files.readAllBytes(theirs), Files.readAllBytes(ours), name);
        }
        Npy.IntArray l = Npy.readIntegers(Fixtures.file("bi2.lengths.npy"));
        Path ours = tmp.resolve("l.npy");
        Npy.writeInt64(ours, l.shape(), l.data());
        assertArrayEquals(Files.readAllBytes(Fixtures.file("bi2.lengths.npy")), Files.readAllBytes(ours));
        Npy.writeInt32(ours, l.shape(), Arrays.stream(l.data()).mapToInt(v -> (int) v).toArray());
        assertArrayEquals(Files.readAllBytes(Fixtures.file("bi2.lengths32.npy")), Files.readAllBytes(ours));
    }

    @Test
    void roundTripsShapes() throws IOException {
        long[][] shapes = {{}, {0}, {3}, {2, 0, 4}, {1, 1, 1, 1, 1, 7}, {70000}};
        for (long[] shape : shapes) {
            int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            float[] data = new float[n];
            for (int i = 0; i < n; i++) data[i] = i * 0.5f - 3;
            Path f = tmp.resolve("a.npy");
            Npy.writeFloat32(f, shape, data);
            assertEquals(0, (Files.size(f) - 4L * n) % 64, "header aligned to 64 bytes");
            Npy.FloatArray back = Npy.readFloat32(f);
            assertArrayEquals(shape, back.shape(), Arrays.toString(shape));
            assertArrayEquals(data, back.data());
        }
    }

    @Test
    void readsEveryHeaderSpelling() throws IOException {
        String[] headers = {
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            "{'descr':'<f4','fortran_order':False,'shape':(2,3)}",
            "{\"shape\": (2L, 3L), \"fortran_order\": False, \"descr\": \"<f4\"}",
            "  { 'descr' : '<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }  ",
        };
        float[] data = {1, 2, 3, 4, 5, 6};
        for (String h : headers) {
            for (int version = 1; version <= 3; version++) {
                Path f = tmp.resolve("h.npy");
                Files.write(f, file(version, h, le(data)));
                Npy.FloatArray a = Npy.readFloat32(f);
                assertArrayEquals(new long[] {2, 3}, a.shape(), h);
                assertArrayEquals(data, a.data(), h);
            }
        }
    }

    @Test
    void readsBigEndianAndFortranVectors() throws IOException {
        ByteBuffer be = ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putFloat(1.5f).putFloat(-2f);
        Path f = tmp.resolve("be.npy");
        Files.write(f, file(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be.array()));
        assertArrayEquals(new float[] {1.5f, -2f}, Npy.readFloat32(f).data());
        Files.write(f, file(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1), }", le(new float[] {3, 4})));
        assertArrayEquals(new float[] {3, 4}, Npy.readFloat32(f).data(), "one non-trivial dimension: same order");
        ByteBuffer i32 = ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putInt(7).putInt(-1);
        Files.write(f, file(1, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", i32.array()));
        assertArrayEquals(new long[] {7, -1}, Npy.readIntegers(f).data());
    }

    @Test
    void rejectsBadFilesNamingTheProblem() throws IOException {
        byte[] good = Files.readAllBytes(Fixtures.file("lstm1.x.npy"));
        expect("float64", "astype", file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", new byte[16]));
        expect("truncated", "needs", Arrays.copyOf(good, good.length - 3));
        expect("bytes after the data", null, Arrays.copyOf(good, good.length + 4));
        expect("not a .npy file", null, "hello world, not numpy".getBytes(StandardCharsets.US_ASCII));
        expect("not a .npy file", null, new byte[] {1, 2});
        expect("truncated", "header", Arrays.copyOf(good, 40));
        expect("version 9.0", null, withVersion(good, 9));
        expect("fortran_order=True", null,
                file(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new byte[16]));
        expect("corrupt .npy header", "expected", file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,", new byte[8]));
        expect("corrupt .npy header", "duplicate", file(1, "{'descr': '<f4', 'descr': '<f4', 'shape': (2,)}", new byte[8]));
        expect("'shape'", null, file(1, "{'descr': '<f4', 'fortran_order': False}", new byte[8]));
        expect("'descr'", "structured", file(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", new byte[4]));
        expect("'fortran_order'", null, file(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", new byte[4]));
        expect("corrupt .npy header", "non-negative", file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", new byte[4]));
        expect("'|u1'", "unsigned", file(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1,)}", new byte[1]));

        Path f = tmp.resolve("floats.npy");
        Files.write(f, good);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Npy.readIntegers(f));
        assertTrue(e.getMessage().contains("int32 or int64") && e.getMessage().contains("'<f4'"), e.getMessage());
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        NoSuchFileException missing = assertThrows(NoSuchFileException.class, () -> Npy.readFloat32(tmp.resolve("nope.npy")));
        assertTrue(missing.getMessage().contains("nope.npy"), missing.getMessage());
    }

    private void expect(String what, String also, byte[] content) throws IOException {
        if (content == null) return;
        Path f = tmp.resolve("bad.npy");
        Files.write(f, content);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Npy.readFloat32(f), what);
        String m = e.getMessage();
        assertTrue(m.startsWith(f.toString() + ": "), "names the file: " + m);
        assertTrue(m.contains(what) && (also == null || m.contains(also)), "expected '" + what + "': " + m);
        assertFalse(m.contains("\n"), "one line: " + m);
    }

    /** A failed write leaves neither the target nor a temporary file. */
    @Test
    void writesAllOrNothing() throws IOException {
        Path f = tmp.resolve("out.npy");
        assertThrows(IllegalArgumentException.class, () -> Npy.writeFloat32(f, new long[] {2, 2}, new float[3]));
        assertFalse(Files.exists(f));
        Npy.writeFloat32(f, new long[] {1}, new float[] {1});
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(1, s.count(), "only the target, no temp file");
        }
    }

    private static byte[] le(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b.array();
    }

    /** A .npy file of format {@code version} with header text {@code header} (padded to 64, '\n') and data. */
    static byte[] file(int version, String header, byte[] data) {
        int prefix = version == 1 ? 10 : 12;
        byte[] h = header.getBytes(StandardCharsets.ISO_8859_1);
        int total = (prefix + h.length + 1 + 63) & ~63;
        ByteBuffer b = ByteBuffer.allocate(total + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) version, 0});
        if (version == 1) b.putShort((short) (total - prefix)); else b.putInt(total - prefix);
        b.put(h);
        while (b.position() < total - 1) b.put((byte) ' ');
        b.put((byte) '\n').put(data);
        return b.array();
    }

    private static byte[] withVersion(byte[] a, int major) {
        byte[] c = a.clone();
        c[6] = (byte) major;
        return c;
    }
}
