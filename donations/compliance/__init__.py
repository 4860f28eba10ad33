"""The money rules of political giving, on top of the donation flow: which election a gift is
for (`designation`), who the donor is across emails (`identity`), their totals per election and
per cycle (`aggregates`), the limits at checkout with the donor's consent to move the excess to
a later election (`limits`, `consent`), monthly gifts that would pass a limit (`monthly`),
itemization and the best-efforts follow-up (`itemization`, `besteffort`), and prohibited
sources (`sources`). `checkout` runs them for a starting donation, in its transaction."""
