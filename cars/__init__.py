"""Happiness cars: contracts, the primary user's guaranteed time, bookings of the idle time, trips and their fares,
condition reports, rebooking after a late return, monthly invoices.

The model, for a newcomer:
- A contract gives a car to a primary user: their guaranteed weekly windows (Seoul time), one-off extra windows,
  and spans of their windows they release for a day (credited by the contract's rule, `release_credit_krw_per_hour`).
  The car's home slot is held for it for the whole contract by a parking booking, so the slot is never double-booked.
- Everything else in the contract is shareable: any resident books it for [start, end) if it keeps the buffer
  (`car_buffer_minutes`) clear of the primary user's time on both sides and of every other booking after it (the
  `blocked` range and PostgreSQL's exclusion constraint `no_double_car_booking`). The primary user books too: inside
  their own time (its time is covered by the monthly fee), or in shareable time like anyone.
- Money: the quote (time by the zone's car tariff and band, plus `car_estimate_km` km) is held at booking; at return
  the fare is the booked time (and the late time), the km driven, and the late, low-battery and cleaning fees, as
  lines that add up; it is captured, split by the car settlement rule, and written to the ledger with the trip.
- The car's MDS life is the fleet's: pick-up is `trip_start`, return `trip_end`, the trip is an MDS trip.
- A car late enough to threaten the next booking opens a rebooking offer to that booking's driver (another free car
  for the same time, or a full refund) and an inspection task for the operators.
"""
