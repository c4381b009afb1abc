package org.lstmk.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The GPU timing tool's code path, run on the host build (its times mean nothing here; its output format does). */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class GpuTimingTest {
    @Test
    void printsOneParsableLinePerShape() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int rc = GpuTiming.run("host", List.of("8x2x3", "5x1x2"), 2, 1, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        assertEquals(0, rc);
        List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().filter(l -> !l.startsWith("#")).toList();
        assertEquals(GpuTiming.HEADER, lines.get(0));
        assertEquals(3, lines.size(), lines.toString());
        String[] f = lines.get(1).split("\t");
        assertEquals(GpuTiming.HEADER.split("\t").length, f.length);
        assertEquals("8x2x3", f[0]);
        assertTrue(Double.parseDouble(f[4]) > 0, "device time measured");
        assertEquals(2.0 * 3 * 2 * 4 * 8 * 16 / 1e9, Double.parseDouble(f[7]), 1e-6, "GFLOP = 2·T·B·4H·(I+H)");
    }
}
