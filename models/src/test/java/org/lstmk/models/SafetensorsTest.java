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
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The safetensors reader and writer: round trips in every float type, and corrupt or truncated files. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class SafetensorsTest {
    @TempDir Path tmp;

    @Test
    void roundTripsEveryFloatType() throws IOException {
        float[] v = {0f, 1f, -2.5f, 0.1f, 65504f, 1e-3f, Float.MIN_NORMAL, -0f};
        for (Safetensors.Dtype d : new Safetensors.Dtype[] {Safetensors.Dtype.F32, Safetensors.Dtype.F16,
                Safetensors.Dtype.BF16}) {
            Path f = tmp.resolve(d + ".safetensors");
            Map<String, Safetensors.Tensor> t = new LinkedHashMap<>();
            t.put("a.b", new Safetensors.Tensor(d, new long[] {2, 4}, v));
            t.put("scalar", new Safetensors.Tensor(d, new long[] {}, new float[] {3f}));
            t.put("empty", new Safetensors.Tensor(d, new long[] {0, 3}, new float[0]));
            Safetensors.write(f, t, Map.of("format", "pt"));
            try (Safetensors.Reader r = Safetensors.open(f)) {
                assertEquals(Map.of("format", "pt"), r.metadata());
                assertEquals(java.util.List.of("a.b", "scalar", "empty"), java.util.List.copyOf(r.tensors().keySet()));
                assertArrayEquals(new long[] {2, 4}, r.info("a.b").shape());
                assertEquals(d, r.info("a.b").dtype());
                float[] back = r.floats("a.b");
                for (int i = 0; i < v.length; i++) {
                    float want = switch (d) {
                        case F16 -> Float.float16ToFloat(Float.floatToFloat16(v[i]));
                        case BF16 -> Safetensors.bf16ToFloat(Safetensors.floatToBf16(v[i]));
                        default -> v[i];
                    };
                    assertEquals(want, back[i], d + " element " + i);
                }
                assertArrayEquals(new float[] {3f}, r.floats("scalar"));
                assertEquals(0, r.floats("empty").length);
            }
            long headerLen = ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertEquals(0, headerLen % 8, "data 8-byte aligned");
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(1f, Safetensors.bf16ToFloat(Safetensors.floatToBf16(Float.intBitsToFloat(0x3f808000))), "tie to even");
        assertEquals(Float.intBitsToFloat(0x3f820000),
                Safetensors.bf16ToFloat(Safetensors.floatToBf16(Float.intBitsToFloat(0x3f818000))), "tie to even, up");
        assertEquals(Float.intBitsToFloat(0x3f810000),
                Safetensors.bf16ToFloat(Safetensors.floatToBf16(Float.intBitsToFloat(0x3f808001))), "above half");
        assertTrue(Float.isNaN(Safetensors.bf16ToFloat(Safetensors.floatToBf16(Float.NaN))));
        assertEquals(Float.POSITIVE_INFINITY, Safetensors.bf16ToFloat(Safetensors.floatToBf16(Float.POSITIVE_INFINITY)));
    }

    @Test
    void readsOtherTypesAsListedButNotAsFloats() throws IOException {
        Path f = tmp.resolve("mixed.safetensors");
        Files.write(f, raw("{\"steps\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                + "\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[8,24]},"
                + "\"q\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[24,25]}}", f64(1.5, -2)));
        try (Safetensors.Reader r = Safetensors.open(f)) {
            assertArrayEquals(new float[] {1.5f, -2f}, r.floats("w"));
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> r.floats("steps"));
            assertTrue(e.getMessage().contains("'steps'") && e.getMessage().contains("I64"), e.getMessage());
            assertEquals(null, r.info("q").dtype(), "an unknown dtype is listed");
            e = assertThrows(ModelFormatException.class, () -> r.floats("q"));
            assertTrue(e.getMessage().contains("F4"), e.getMessage());
            e = assertThrows(ModelFormatException.class, () -> r.floats("nothing"));
            assertTrue(e.getMessage().contains("'nothing'") && e.getMessage().contains("no such tensor"), e.getMessage());
        }
    }

    @Test
    void rejectsCorruptAndTruncatedFiles() throws IOException {
        byte[] good = Files.readAllBytes(Fixtures.file("lstm1.safetensors"));
        long n = ByteBuffer.wrap(good, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(good, 8, (int) n, StandardCharsets.UTF_8);

        expect(Arrays.copyOf(good, good.length - 5), "truncated", "bias_hh_l0");
        expect(Arrays.copyOf(good, 100), "truncated", "header");
        expect(Arrays.copyOf(good, 5), "shorter than the 8-byte header size", null);
        expect(withLength(good, 1L << 40), "header size", "outside");
        expect(withLength(good, 0), "header size", "outside");
        expect(replace(good, header, header.replaceFirst("\\{", "[")), "not valid JSON", null);
        expect(replace(good, header, header.replaceFirst(":", ";")), "not valid JSON", null);
        expect(raw("[1,2]", new byte[0]), "the header is JSON but not an object", null);
        expect(raw("[1,2]", new byte[0]), "not a safetensors file: the header is JSON", null);
        expect(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", new byte[4]),
                "'a'", "expected 8 for F32 [2]");
        expect(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,4]}}", new byte[8]),
                "'a'", "non-negative");
        expect(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}",
                new byte[4]), "'a'", "overflows");
        expect(raw("{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,4]}}",
                new byte[4]), "'a'", "overflows");
        expect(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", new byte[8]),
                "'a'", "end before begin");
        expect(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[8]), "'a'", "data_offsets");
        expect(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", new byte[8]), "'b'", "overlap");
        expect(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]), "'a'", "gap");
        expect(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[8]),
                "4 bytes after the last tensor's data", null);
        expect(Arrays.copyOf(good, good.length + 3), "3 bytes after the last tensor's data", null);
        expect(raw("{\"a\":{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[8]), "'a'", "dtype");
        expect(raw("{\"__metadata__\":{\"k\":1}}", new byte[0]), "__metadata__", "string");
        expect(raw("{} x", new byte[0]), "not a safetensors file: data after the header's JSON object", null);
        byte[] notUtf8 = raw("{\"a\":1}", new byte[0]);
        notUtf8[10] = (byte) 0xff;
        expect(notUtf8, "not UTF-8", null);
        expect(Files.readAllBytes(Fixtures.file("lstm1.x.npy")), "not a safetensors file", null);
    }

    private void expect(byte[] content, String what, String also) throws IOException {
        Path f = tmp.resolve("bad.safetensors");
        Files.write(f, content);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> {
            try (Safetensors.Reader r = Safetensors.open(f)) {
                for (String name : r.tensors().keySet()) r.floats(name);
            }
        }, what);
        String m = e.getMessage();
        assertTrue(m.startsWith(f + ": "), "names the file: " + m);
        assertTrue(m.contains(what) && (also == null || m.contains(also)), "expected '" + what + "', '" + also + "': " + m);
        assertFalse(m.contains("\n"), "one line: " + m);
    }

    /** A safetensors file from header text and data. */
    static byte[] raw(String json, byte[] data) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        return b.putLong(h.length).put(h).put(data).array();
    }

    /** An I64 0 ("steps"), the doubles, then one byte (the F4 tensor "q"). */
    private static byte[] f64(double... v) {
        ByteBuffer b = ByteBuffer.allocate(8 + 8 * v.length + 1).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0);
        for (double d : v) b.putDouble(d);
        return b.array();
    }

    private static byte[] withLength(byte[] a, long n) {
        byte[] c = a.clone();
        ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putLong(0, n);
        return c;
    }

    private static byte[] replace(byte[] file, String header, String newHeader) {
        byte[] h = newHeader.getBytes(StandardCharsets.UTF_8);
        byte[] c = file.clone();
        System.arraycopy(h, 0, c, 8, h.length);
        assertEquals(header.getBytes(StandardCharsets.UTF_8).length, h.length);
        return c;
    }
}
