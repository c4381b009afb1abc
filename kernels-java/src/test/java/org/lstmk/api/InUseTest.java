package org.lstmk.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Closing waits for the calls using a resource, and refuses new ones. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class InUseTest {
    @Test
    void closeWaitsForTheCallsInside() throws InterruptedException {
        InUse use = new InUse("has been closed");
        use.enter("w");
        use.enter("w");
        Thread closer = Thread.ofPlatform().start(use::close);
        closer.join(200);
        assertTrue(closer.isAlive(), "close returned while two calls were using the resource");
        assertTrue(use.isClosed(), "new calls are refused at once");
        assertEquals("w: has been closed",
                assertThrows(IllegalStateException.class, () -> use.enter("w")).getMessage());
        use.exit();
        closer.join(200);
        assertTrue(closer.isAlive(), "close returned while a call was using the resource");
        use.exit();
        closer.join(10_000);
        assertFalse(closer.isAlive());
        assertFalse(use.close(), "a second close is a no-op");
    }

    @Test
    void anInterruptDoesNotCutTheWaitShort() throws InterruptedException {
        InUse use = new InUse("has been closed");
        use.enter("w");
        boolean[] interruptedAfter = new boolean[1];
        Thread closer = Thread.ofPlatform().start(() -> {
            use.close();
            interruptedAfter[0] = Thread.currentThread().isInterrupted();
        });
        Thread.sleep(50);
        closer.interrupt();
        closer.join(200);
        assertTrue(closer.isAlive());
        use.exit();
        closer.join(10_000);
        assertTrue(interruptedAfter[0], "the interrupt status is kept");
    }
}
