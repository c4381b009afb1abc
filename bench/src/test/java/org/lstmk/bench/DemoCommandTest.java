package org.lstmk.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class DemoCommandTest {
    @Test
    void badOptionsAreAnErrorWithExitCode2() {
        assertEquals(2, DemoCommand.run(new String[] {"--bogus"}));
        assertEquals(2, DemoCommand.run(new String[] {"--task", "nope"}));
        assertEquals(2, DemoCommand.run(new String[] {"--steps", "-3"}));
        assertEquals(2, DemoCommand.run(new String[] {"--lr", "abc"}));
        assertEquals(2, DemoCommand.run(new String[] {"--out"}));
    }
}
