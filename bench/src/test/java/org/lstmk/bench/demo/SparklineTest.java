package org.lstmk.bench.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class SparklineTest {
    @Test
    void oneBarPerBucketFromLowestToHighest() {
        assertEquals("█▅▁", Sparkline.of(List.of(1.0, 1.0, 0.1, 0.1, 0.01, 0.01), 3, true));
        assertEquals("▁▅█", Sparkline.of(List.of(0.0, 0.5, 1.0), 10, false));
        assertEquals("▁▁", Sparkline.of(List.of(2.0, 2.0), 2, false));
        assertEquals("", Sparkline.of(List.of(), 5, false));
    }
}
